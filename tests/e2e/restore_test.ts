// `backupd restore` and `backupd verify` on real archives: round trips, archives made by
// GNU tar, malicious archives written by Python's tarfile, and every kind of damage.

import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import {
  backupd,
  backupNow,
  descendantsOf,
  flipMiddleByte,
  isRoot,
  listFiles,
  onlyArchive,
  randomFile,
  run,
  sha256File,
  spawnBackupd,
  tempDir,
  waitFor,
} from "../helpers.ts";
import { assertSameTree, makeInteropTree, snapshot } from "../tree.ts";

async function backupOf(source: string, dest: string): Promise<string> {
  const made = await backupNow(source, dest);
  strictEqual(made.code, 0, made.stderr);
  return await onlyArchive(dest);
}

Deno.test("backupd restore round-trips the interop tree in every attribute", async () => {
  await using dir = await tempDir();
  const source = `${dir.path}/data`;
  await Deno.mkdir(source);
  const owners = isRoot();
  await makeInteropTree(source, { owners });
  const archive = await backupOf(source, `${dir.path}/backup`);
  const restored = await backupd(["restore", archive, "--to", `${dir.path}/restored`]);
  strictEqual(restored.code, 0, restored.stderr);
  match(restored.stderr, /INFO restore done .* refused=0 skipped=0\n$/);
  await assertSameTree(source, `${dir.path}/restored`, { owners });
});

Deno.test("backupd restore takes an archive name relative to DEST and restores a GNU tar archive too", async () => {
  await using dir = await tempDir();
  const source = `${dir.path}/data`;
  await Deno.mkdir(source);
  await makeInteropTree(source, { owners: isRoot() });
  await Deno.mkdir(`${dir.path}/backup/2027-01-02`, { recursive: true });
  const made = await run("tar", [
    "-czf",
    `${dir.path}/backup/2027-01-02/01-00-00.tar.gz`,
    "-C",
    dir.path,
    "data",
  ]);
  strictEqual(made.code, 0, made.stderr);
  const restored = await backupd([
    "restore",
    "2027-01-02/01-00-00.tar.gz",
    "--dest",
    `${dir.path}/backup`,
    "--to",
    `${dir.path}/out`,
  ]);
  // No sidecar beside a GNU tar archive: restored, with a warning and exit 1.
  strictEqual(restored.code, 1, restored.stderr);
  match(restored.stderr, /WARN no sidecar: the sha256 was not checked/);
  const expected = await snapshot(source, { owners: isRoot() });
  const actual = await snapshot(`${dir.path}/out`, { owners: isRoot() });
  for (const [rel, attrs] of expected) {
    // GNU tar's default format stores whole seconds only; folders' times are all compared.
    deepStrictEqual(actual.get(rel), attrs, `"${rel}" differs`);
  }
});

Deno.test("backupd restore refuses a folder that is not empty, and a damaged archive, before writing", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/data`);
  await Deno.writeTextFile(`${dir.path}/data/f`, "f");
  const archive = await backupOf(`${dir.path}/data`, `${dir.path}/backup`);
  await Deno.mkdir(`${dir.path}/busy`);
  await Deno.writeTextFile(`${dir.path}/busy/keep`, "mine");
  const busy = await backupd(["restore", archive, "--to", `${dir.path}/busy`]);
  strictEqual(busy.code, 2);
  strictEqual(busy.stderr, `backupd: Cannot restore into "${dir.path}/busy": not empty\n`);
  deepStrictEqual(await listFiles(`${dir.path}/busy`), ["keep"]);

  await Deno.writeFile(archive, flipMiddleByte(await Deno.readFile(archive)));
  const damaged = await backupd(["restore", archive, "--to", `${dir.path}/fresh`]);
  strictEqual(damaged.code, 2);
  strictEqual(
    damaged.stderr,
    `backupd: Cannot restore "${archive}": the sha256 does not match the sidecar\n`,
  );
  strictEqual(await Deno.stat(`${dir.path}/fresh`).then(() => true, () => false), false);
});

const MALICIOUS = `
import io, sys, tarfile
out, outside = sys.argv[1], sys.argv[2]
def add(t, name, kind=tarfile.REGTYPE, data=b"pwned\\n", link=""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.mode = 0o644
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    t.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
with tarfile.open(out, "w:gz", format=tarfile.PAX_FORMAT) as t:
    add(t, "data/", tarfile.DIRTYPE)
    add(t, "data/good.txt", data=b"good\\n")
    add(t, outside + "/absolute.txt")
    add(t, "data/../../escaped.txt")
    add(t, "data/sub/../../../escaped2.txt")
    add(t, "data/link", tarfile.SYMTYPE, link=outside)
    add(t, "data/link/through.txt")
    add(t, "data/victim", tarfile.SYMTYPE, link=outside + "/victim.txt")
    add(t, "data/victim")
    add(t, "data/hard-abs", tarfile.LNKTYPE, link=outside + "/victim.txt")
    add(t, "data/hard-up", tarfile.LNKTYPE, link="data/../../victim.txt")
    add(t, "data/hard-through", tarfile.LNKTYPE, link="data/link/victim.txt")
    add(t, "data/after.txt", data=b"after\\n")
`;

Deno.test("backupd restore refuses every entry that would land outside DIR and restores the rest", async () => {
  await using dir = await tempDir();
  const outside = `${dir.path}/outside`;
  await Deno.mkdir(outside);
  await Deno.writeTextFile(`${outside}/victim.txt`, "original\n");
  const before = await snapshot(outside, { owners: true });
  const archive = `${dir.path}/evil.tar.gz`;
  const made = await run("python3", ["-c", MALICIOUS, archive, outside]);
  strictEqual(made.code, 0, made.stderr);
  const target = `${dir.path}/restore-here/deeper`;
  const restored = await backupd(["restore", archive, "--to", target], {
    BACKUP_LOG_FORMAT: "json",
  });
  strictEqual(restored.code, 2, restored.stderr);
  const refused = restored.stderr.trim().split("\n").map((line) => JSON.parse(line))
    .filter((line) => line.message === "entry not restored").map((
      line,
    ) => [line.name, line.reason]);
  deepStrictEqual(refused, [
    [`${outside}/absolute.txt`, "absolute name"],
    ["data/../../escaped.txt", '".." in name'],
    ["data/sub/../../../escaped2.txt", '".." in name'],
    ["data/link/through.txt", 'would write through the symlink "link"'],
    ["data/victim", "would write through a symlink"],
    ["data/hard-abs", `hard link to a path outside the folder ("${outside}/victim.txt")`],
    ["data/hard-up", 'hard link to a path outside the folder ("data/../../victim.txt")'],
    ["data/hard-through", 'hard link to "data/link/victim.txt", which is not a file restored here'],
  ]);
  // Nothing outside DIR was created or changed.
  deepStrictEqual(await snapshot(outside, { owners: true }), before);
  deepStrictEqual(await listFiles(dir.path), [
    "evil.tar.gz",
    "outside/",
    "outside/victim.txt",
    "restore-here/",
    "restore-here/deeper/",
    "restore-here/deeper/after.txt",
    "restore-here/deeper/good.txt",
    "restore-here/deeper/link",
    "restore-here/deeper/victim",
  ]);
  strictEqual(await Deno.readTextFile(`${target}/good.txt`), "good\n");
  strictEqual(await Deno.readTextFile(`${target}/after.txt`), "after\n");
  strictEqual(await Deno.readLink(`${target}/link`), outside);
});

/** Rewrites the tar inside a .tar.gz with `edit` (Python), recompressed, with a fresh sidecar. */
async function rewriteTar(archive: string, edit: string): Promise<void> {
  const script = `
import gzip, sys
data = bytearray(gzip.open(sys.argv[1]).read())
${edit}
with open(sys.argv[1], "wb") as f:
    f.write(gzip.compress(bytes(data)))
`;
  const done = await run("python3", ["-c", script, archive]);
  strictEqual(done.code, 0, done.stderr);
  const name = archive.slice(archive.lastIndexOf("/") + 1);
  await Deno.writeTextFile(`${archive}.sha256`, `${await sha256File(archive)}  ${name}\n`);
}

Deno.test("backupd verify says OK for a good archive and FAILED with the reason for each damage", async () => {
  await using dir = await tempDir();
  const source = `${dir.path}/data`;
  await Deno.mkdir(source);
  await makeInteropTree(source, { owners: false });
  await Deno.writeFile(`${source}/random.bin`, crypto.getRandomValues(new Uint8Array(60_000)));
  const dest = `${dir.path}/backup`;
  const archive = await backupOf(source, dest);
  const pristine = await Deno.readFile(archive);
  const pristineSidecar = await Deno.readTextFile(`${archive}.sha256`);
  const name = archive.slice(dest.length + 1);
  const verify = () => backupd(["verify", "--dest", dest]);
  const restore = async () => {
    await Deno.writeFile(archive, pristine);
    await Deno.writeTextFile(`${archive}.sha256`, pristineSidecar);
  };

  const good = await verify();
  strictEqual(good.code, 0, good.stderr);
  match(
    good.stdout,
    new RegExp(
      `^OK ${name}: \\d+ entries, [\\d.]+ (KiB|MiB) of content, sha256 matches the sidecar\\n$`,
    ),
  );

  const cases: [string, () => Promise<void>, RegExp][] = [
    ["a flipped byte, with the sidecar", async () => {
      await Deno.writeFile(archive, flipMiddleByte(pristine, 0x55));
    }, /: the sha256 does not match the sidecar$/],
    ["a flipped byte, without the sidecar", async () => {
      await Deno.writeFile(archive, flipMiddleByte(pristine, 0x55));
      await Deno.remove(`${archive}.sha256`);
    }, /: the (gzip stream is corrupt|tar stream is invalid) \(.+\)$/],
    ["a truncated archive", async () => {
      await Deno.writeFile(archive, pristine.slice(0, Math.floor(pristine.length * 0.7)));
      await Deno.remove(`${archive}.sha256`);
    }, /: the gzip stream is truncated$/],
    [
      "a tar header with a bad checksum in a valid gzip stream",
      () => rewriteTar(archive, "data[100] ^= 0x01  # a mode digit of the first header"),
      /: the tar stream is invalid \(Invalid tar header checksum\.\)$/,
    ],
    [
      "no end-of-archive marker",
      () => rewriteTar(archive, "assert data[-1024:] == bytes(1024)\ndel data[-1024:]"),
      /: the tar stream is truncated or has no end-of-archive marker \(.+\)$/,
    ],
  ];
  for (const [what, damage, reason] of cases) {
    await restore();
    await damage();
    const result = await verify();
    strictEqual(result.code, 2, `${what}: ${result.stdout}${result.stderr}`);
    match(
      result.stdout,
      new RegExp(`^FAILED ${name.replaceAll(".", "\\.")}${reason.source}`, "m"),
      `${what}: ${result.stdout}`,
    );
  }
});

Deno.test("backupd verify without a sidecar checks the rest and says the hash was not checked", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/data`);
  const archive = await backupOf(`${dir.path}/data`, `${dir.path}/backup`);
  await Deno.remove(`${archive}.sha256`);
  const result = await backupd(["verify", archive]);
  strictEqual(result.code, 0, result.stderr);
  match(result.stdout, /^OK \S+: 1 entries, 0 B of content, sha256 not checked: no sidecar\n$/);
});

Deno.test("backupd verify says FAILED for a .tar.zst that is corrupt or truncated", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/data`);
  await Deno.writeFile(
    `${dir.path}/data/random.bin`,
    crypto.getRandomValues(new Uint8Array(60_000)),
  );
  await Deno.writeTextFile(`${dir.path}/data/text`, "row\n".repeat(1_000_000));
  const made = await backupNow(`${dir.path}/data`, `${dir.path}/b`, ["--compression", "zstd"]);
  strictEqual(made.code, 0, made.stderr);
  const archive = await onlyArchive(`${dir.path}/b`);
  const pristine = await Deno.readFile(archive);
  await Deno.remove(`${archive}.sha256`);
  await Deno.writeFile(archive, flipMiddleByte(pristine, 0x55));
  const corrupt = await backupd(["verify", archive]);
  strictEqual(corrupt.code, 2);
  match(corrupt.stdout, /^FAILED \S+\.tar\.zst: the zstd stream is corrupt \(.+\)\n$/);
  await Deno.writeFile(archive, pristine.slice(0, Math.floor(pristine.length * 0.6)));
  const truncated = await backupd(["verify", archive]);
  strictEqual(truncated.code, 2);
  match(truncated.stdout, /^FAILED \S+\.tar\.zst: the zstd stream is truncated\n$/);
});

Deno.test("backupd restore puts ./-rooted archives of GNU tar and bsdtar in place exactly, with and without a top folder", async () => {
  await using dir = await tempDir();
  const source = `${dir.path}/data`;
  await Deno.mkdir(source);
  await makeInteropTree(source, { owners: isRoot() });
  const expected = await snapshot(source, { owners: isRoot() });
  const makers: [string, string, string[]][] = [
    ["GNU tar, ./", "tar", ["-C", source, "-czf", "ARCHIVE", "."]],
    ["bsdtar, ./", "bsdtar", ["-C", source, "-czf", "ARCHIVE", "."]],
    ["GNU tar, ./data", "tar", ["-C", dir.path, "-czf", "ARCHIVE", "./data"]],
  ];
  for (const [i, [what, tool, args]] of makers.entries()) {
    const archive = `${dir.path}/made-${i}.tar.gz`;
    const made = await run(tool, args.map((a) => a === "ARCHIVE" ? archive : a));
    strictEqual(made.code, 0, `${what}: ${made.stderr}`);
    const out = `${dir.path}/out-${i}`;
    const restored = await backupd(["restore", archive, "--to", out]);
    strictEqual(restored.code, 1, `${what}: ${restored.stderr}`); // no sidecar: a warning
    match(restored.stderr, / refused=0 skipped=0\n$/, what);
    const actual = await snapshot(out, { owners: isRoot() });
    deepStrictEqual([...actual.keys()].sort(), [...expected.keys()].sort(), what);
    for (const [rel, attrs] of expected) {
      // Whole-second mtimes in these tools' default formats: compare what they keep.
      deepStrictEqual(actual.get(rel), attrs, `${what}: "${rel}" differs`);
    }
  }
});

Deno.test("backupd restore out of space names the file and leaves DIR as it found it", async () => {
  await using dir = await tempDir();
  const source = `${dir.path}/data`;
  await Deno.mkdir(`${source}/sub`, { recursive: true });
  await Deno.writeTextFile(`${source}/sub/small`, "small\n");
  await randomFile(`${source}/sub/zz-big`, 3);
  const archive = await backupOf(source, `${dir.path}/backup`);
  const target = `${dir.path}/mnt`;
  await Deno.mkdir(target);
  strictEqual((await run("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", target])).code, 0);
  try {
    const restored = await backupd(["restore", archive, "--to", target]);
    strictEqual(restored.code, 2, restored.stderr);
    const lines = restored.stderr.split("\n").filter((l) => l !== "");
    strictEqual(lines.length, 1, restored.stderr);
    strictEqual(lines[0], 'backupd: Cannot restore "data/sub/zz-big": no space left on device');
    deepStrictEqual(await listFiles(target), [], "the mount point is empty again");
  } finally {
    await run("umount", [target]);
  }
});

Deno.test("a restore killed midway leaves only its hidden stage, which the next restore removes", async () => {
  await using dir = await tempDir();
  const source = `${dir.path}/data`;
  for (let i = 0; i < 3; i++) await randomFile(`${source}/f${i}`, 100);
  const archive = await backupOf(source, `${dir.path}/backup`);
  const target = `${dir.path}/restored`;
  const child = spawnBackupd(["restore", archive, "--to", target]);
  const stage = await waitFor("a half-filled stage", async () => {
    for (const path of await listFiles(target).catch(() => [])) {
      if (
        /^\.backupd-restore-\d+\/f0$/.test(path) &&
        (await Deno.stat(`${target}/${path}`)).size > 20e6
      ) {
        return path.slice(0, path.indexOf("/"));
      }
    }
    return undefined;
  });
  // The restore itself, `deno task`'s child, is killed by its id.
  const restore = descendantsOf(child.pid);
  strictEqual(restore.length > 0, true, "the restore runs under deno task");
  for (const pid of restore.reverse()) Deno.kill(pid, "SIGKILL");
  await child.output();
  // Nothing half-written stands in DIR under a real name.
  deepStrictEqual([...Deno.readDirSync(target)].map((e) => e.name), [stage]);

  const again = await backupd(["restore", archive, "--to", target]);
  strictEqual(again.code, 0, again.stderr);
  match(
    again.stderr,
    new RegExp(`INFO removed the leftovers of an interrupted restore path=${target}/${stage}\\n`),
  );
  await assertSameTree(source, target, { owners: isRoot() });
});

Deno.test("backupd restore into a read-only file system says so in one line", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/data`);
  await Deno.writeTextFile(`${dir.path}/data/a`, "a\n");
  const archive = await backupOf(`${dir.path}/data`, `${dir.path}/backup`);
  const target = `${dir.path}/ro`;
  await Deno.mkdir(target);
  strictEqual((await run("mount", ["-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", target])).code, 0);
  try {
    for (const into of [target, `${target}/new`]) {
      const restored = await backupd(["restore", archive, "--to", into]);
      strictEqual(restored.code, 2, restored.stderr);
      strictEqual(
        restored.stderr,
        `backupd: Cannot restore into "${into}": read-only file system\n`,
      );
    }
  } finally {
    await run("umount", [target]);
  }
});
