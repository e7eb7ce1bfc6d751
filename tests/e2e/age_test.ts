// Encrypted archives against the age CLI (Debian's `age`), both ways: what backupd encrypts,
// age decrypts; what age encrypts, backupd verifies and restores. Plus the failures.

import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import { dirname } from "node:path";
import {
  backupd,
  backupNow,
  flipMiddleByte,
  isRoot,
  listFiles,
  onlyArchive,
  run,
  tempDir,
} from "../helpers.ts";
import { assertSameTree, makeInteropTree } from "../tree.ts";

/** A new age key pair from age-keygen: the identity file and its public key. */
async function keyPair(path: string): Promise<string> {
  const made = await run("age-keygen", ["-o", path]);
  strictEqual(made.code, 0, made.stderr);
  return /age1[0-9a-z]+/.exec(made.stderr)?.[0] ?? "";
}

Deno.test("backupd now --age-recipient writes a .tar.gz.age that the age CLI decrypts to the source", async () => {
  await using dir = await tempDir();
  const source = `${dir.path}/data`;
  await Deno.mkdir(source);
  const owners = isRoot();
  await makeInteropTree(source, { owners });
  const first = await keyPair(`${dir.path}/first.txt`);
  const second = await keyPair(`${dir.path}/second.txt`);
  const made = await backupNow(source, `${dir.path}/backup`, [], {
    BACKUP_AGE_RECIPIENTS: `${first},${second}`,
  });
  strictEqual(made.code, 0, made.stderr);
  const archive = await onlyArchive(`${dir.path}/backup`);
  match(archive, /\/\d{2}-\d{2}-\d{2}\.tar\.gz\.age$/);
  const header = new TextDecoder().decode((await Deno.readFile(archive)).subarray(0, 22));
  strictEqual(header, "age-encryption.org/v1\n");
  // The sidecar hashes the file as stored.
  const check = await run("sha256sum", ["-c", `${archive}.sha256`], { cwd: dirname(archive) });
  strictEqual(check.code, 0, check.stderr);
  // Either recipient's identity opens it.
  for (const key of ["first.txt", "second.txt"]) {
    const out = `${dir.path}/out-${key}`;
    await Deno.mkdir(out);
    const extracted = await run("sh", [
      "-c",
      `age -d -i "$1" "$2" | tar -xzpf - -C "$3" --numeric-owner --warning=no-timestamp`,
      "sh",
      `${dir.path}/${key}`,
      archive,
      out,
    ]);
    strictEqual(extracted.code, 0, extracted.stderr);
    await assertSameTree(source, `${out}/data`, { owners });
  }
});

Deno.test("backupd verify and restore read an archive the age CLI encrypted, given the identity", async () => {
  await using dir = await tempDir();
  const source = `${dir.path}/data`;
  await Deno.mkdir(source);
  const owners = isRoot();
  await makeInteropTree(source, { owners });
  const recipient = await keyPair(`${dir.path}/key.txt`);
  const day = `${dir.path}/backup/2027-01-02`;
  await Deno.mkdir(day, { recursive: true });
  const made = await run("sh", [
    "-c",
    `tar -czf - -C "$1" data | age -r "$2" > "$3/01-00-00.tar.gz.age" && cd "$3" && sha256sum 01-00-00.tar.gz.age > 01-00-00.tar.gz.age.sha256`,
    "sh",
    dir.path,
    recipient,
    day,
  ]);
  strictEqual(made.code, 0, made.stderr);
  const dest = ["--dest", `${dir.path}/backup`];

  const hashOnly = await backupd(["verify", ...dest]);
  strictEqual(hashOnly.code, 0, hashOnly.stderr);
  strictEqual(
    hashOnly.stdout,
    "OK 2027-01-02/01-00-00.tar.gz.age: sha256 matches the sidecar; encrypted, content not checked (give --age-identity)\n",
  );
  const full = await backupd(["verify", ...dest, "--age-identity", `${dir.path}/key.txt`]);
  strictEqual(full.code, 0, full.stderr);
  match(full.stdout, /^OK 2027-01-02\/01-00-00\.tar\.gz\.age: \d+ entries, .* sha256 matches/);

  const refused = await backupd([
    "restore",
    "2027-01-02/01-00-00.tar.gz.age",
    ...dest,
    "--to",
    `${dir.path}/no`,
  ]);
  strictEqual(refused.code, 2);
  strictEqual(
    refused.stderr,
    `backupd: Cannot restore "${day}/01-00-00.tar.gz.age": it is encrypted; give --age-identity FILE\n`,
  );
  strictEqual(await Deno.stat(`${dir.path}/no`).catch(() => undefined), undefined);

  const restored = await backupd([
    "restore",
    "2027-01-02/01-00-00.tar.gz.age",
    ...dest,
    "--to",
    `${dir.path}/restored`,
  ], { BACKUP_AGE_IDENTITY_FILE: `${dir.path}/key.txt` });
  strictEqual(restored.code, 0, restored.stderr);
  await assertSameTree(source, `${dir.path}/restored`, { owners });
});

Deno.test("backupd verify says FAILED for a wrong identity, a damaged and a truncated .age archive", async () => {
  await using dir = await tempDir();
  const source = `${dir.path}/data`;
  await Deno.mkdir(source);
  await Deno.writeFile(`${source}/table`, crypto.getRandomValues(new Uint8Array(60_000)));
  const recipient = await keyPair(`${dir.path}/key.txt`);
  await keyPair(`${dir.path}/other.txt`);
  const made = await backupNow(source, `${dir.path}/backup`, ["--age-recipient", recipient]);
  strictEqual(made.code, 0, made.stderr);
  const archive = await onlyArchive(`${dir.path}/backup`);
  const name = archive.slice(`${dir.path}/backup/`.length);
  const bytes = await Deno.readFile(archive);

  const wrongRestore = await backupd([
    "restore",
    archive,
    "--to",
    `${dir.path}/restored`,
    "--age-identity",
    `${dir.path}/other.txt`,
  ]);
  strictEqual(wrongRestore.code, 2);
  strictEqual(
    wrongRestore.stderr,
    "backupd: Cannot decrypt: no identity in the file given matches the archive's recipients\n",
  );
  strictEqual(await Deno.stat(`${dir.path}/restored`).catch(() => undefined), undefined);
  const wrong = await backupd(["verify", archive, "--age-identity", `${dir.path}/other.txt`]);
  strictEqual(wrong.code, 2, wrong.stderr);
  strictEqual(
    wrong.stdout,
    `FAILED ${archive}: Cannot decrypt: no identity in the file given matches the archive's recipients\n`,
  );

  await Deno.writeTextFile(`${dir.path}/bad-key.txt`, "# a comment\nnot a key\n");
  const badKey = await backupd(["verify", archive, "--age-identity", `${dir.path}/bad-key.txt`]);
  strictEqual(badKey.code, 2);
  strictEqual(
    badKey.stderr,
    `backupd: Cannot read the age identity file "${dir.path}/bad-key.txt": a line is not an age identity (AGE-SECRET-KEY-1...)\n`,
  );

  // Damage that the sidecar would catch, with the sidecar gone: only age's tags notice.
  await Deno.remove(`${archive}.sha256`);
  for (const broken of [flipMiddleByte(bytes), bytes.subarray(0, bytes.length - 100)]) {
    await Deno.writeFile(archive, broken);
    const verified = await backupd([
      "verify",
      name,
      "--dest",
      `${dir.path}/backup`,
      "--age-identity",
      `${dir.path}/key.txt`,
    ]);
    strictEqual(verified.code, 2, verified.stderr);
    match(
      verified.stdout,
      new RegExp(`^FAILED ${name}: the age encryption is damaged or truncated \\(.+\\)\n$`),
    );
  }
  deepStrictEqual(await listFiles(`${dir.path}/backup`), [
    ".backupd/",
    ".backupd/lock",
    ".backupd/status.json",
    name.slice(0, 11),
    name,
  ]);
});
