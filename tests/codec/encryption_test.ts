import { deepStrictEqual, match, rejects, strictEqual, throws } from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { generateHybridIdentity, generateIdentity, identityToRecipient } from "age-encryption";
import {
  checkRecipient,
  DecryptError,
  decryptStream,
  encryptStream,
  readIdentities,
} from "../../lib/codec/encryption.ts";
import { RunError } from "../../lib/base/errors.ts";
import { tempDir } from "../helpers.ts";

async function bytesOf(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

Deno.test("encryptStream and decryptStream round-trip across chunks for X25519 and hybrid keys", async () => {
  const plain = new Uint8Array(randomBytes(200_000));
  const chunks = [plain.subarray(0, 1), plain.subarray(1, 70_000), plain.subarray(70_000)];
  for (const identity of [await generateIdentity(), await generateHybridIdentity()]) {
    const recipient = await identityToRecipient(identity);
    checkRecipient(recipient);
    const encrypted = await bytesOf(await encryptStream(ReadableStream.from(chunks), [recipient]));
    strictEqual(new TextDecoder().decode(encrypted.subarray(0, 22)), "age-encryption.org/v1\n");
    const decrypted = await bytesOf(
      await decryptStream(ReadableStream.from([encrypted]), [identity]),
    );
    deepStrictEqual(decrypted, plain);
  }
});

Deno.test("decryptStream throws a DecryptError when no identity matches", async () => {
  const recipient = await identityToRecipient(await generateIdentity());
  const encrypted = await bytesOf(
    await encryptStream(ReadableStream.from([new Uint8Array(10)]), [recipient]),
  );
  await rejects(
    decryptStream(ReadableStream.from([encrypted]), [await generateIdentity()]),
    (err: unknown) => {
      strictEqual(err instanceof DecryptError, true);
      strictEqual(
        (err as Error).message,
        "Cannot decrypt: no identity in the file given matches the archive's recipients",
      );
      return true;
    },
  );
});

Deno.test("checkRecipient throws a RangeError for what is not an age public key", () => {
  for (const key of ["ssh-ed25519 AAAAC3Nza", "age1", "age1qqqqqqqqqqqqqqqqqqqqqq"]) {
    throws(() => checkRecipient(key), (err: unknown) => {
      strictEqual(err instanceof RangeError, true, key);
      match((err as Error).message, /^(expected an|not a valid) age public key/);
      return true;
    });
  }
});

Deno.test("readIdentities skips comments and blank lines and names a bad file", async () => {
  await using dir = await tempDir();
  const identity = await generateIdentity();
  await Deno.writeTextFile(
    `${dir.path}/key.txt`,
    `# created: 2027-01-02\n# public key: age1...\n\n${identity}\n`,
  );
  deepStrictEqual(await readIdentities(`${dir.path}/key.txt`), [identity]);
  await Deno.writeTextFile(`${dir.path}/empty.txt`, "# nothing\n");
  await rejects(readIdentities(`${dir.path}/empty.txt`), (err: unknown) => {
    strictEqual(err instanceof RunError, true);
    strictEqual(
      (err as Error).message,
      `Cannot read the age identity file "${dir.path}/empty.txt": it holds no identity`,
    );
    return true;
  });
  await rejects(readIdentities(`${dir.path}/missing.txt`), (err: unknown) => {
    strictEqual(err instanceof RunError, true);
    strictEqual(
      (err as Error).message,
      `Cannot read the age identity file "${dir.path}/missing.txt": no such file`,
    );
    return true;
  });
});
