// age encryption of archives as they are written, and decryption as they are read back,
// streamed through `age-encryption` (X25519 and post-quantum hybrid keys, as the age CLI).

import { describeError, fsReason, RunError } from "../base/errors.ts";
import { ageKeyProblem } from "./age_keys.ts";
import { CorruptArchiveError, mapFailure } from "./read_errors.ts";

/**
 * Checks an age public key; throws a `RangeError` saying why it is not one.
 *
 * @example
 * ```ts
 * import { doesNotThrow, throws } from "node:assert/strict";
 * doesNotThrow(() => checkRecipient("age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"));
 * throws(() => checkRecipient("age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8q"));
 * ```
 */
export function checkRecipient(key: string): void {
  // Checked without the age library, which is loaded only where an archive is encrypted or
  // decrypted: it weighs ~7 MB on every run otherwise.
  const problem = ageKeyProblem(key);
  if (problem) throw new RangeError(problem);
}

/**
 * Encrypts a stream to every recipient; any one of their identities decrypts it.
 *
 * @example
 * ```ts ignore
 * const encrypted = await encryptStream(archiveBytes, ["age1..."]);
 * ```
 */
export async function encryptStream(
  stream: ReadableStream<Uint8Array>,
  recipients: readonly string[],
): Promise<ReadableStream<Uint8Array>> {
  const { Encrypter } = await import("age-encryption");
  const encrypter = new Encrypter();
  for (const recipient of recipients) encrypter.addRecipient(recipient);
  return await encrypter.encrypt(stream);
}

/**
 * Reads an identity file as `age-keygen` writes it: `AGE-SECRET-KEY-1...` lines, `#`
 * comments and blank lines.
 *
 * @example
 * ```ts ignore
 * const identities = await readIdentities("/root/backup-key.txt");
 * ```
 */
export async function readIdentities(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    const detail = err instanceof Deno.errors.NotFound ? "no such file" : fsReason(err);
    throw new RunError(`Cannot read the age identity file "${path}": ${detail}`, { cause: err });
  }
  const identities = text.split("\n").map((line) => line.trim()).filter((line) =>
    line !== "" && !line.startsWith("#")
  );
  if (identities.length === 0) {
    throw new RunError(`Cannot read the age identity file "${path}": it holds no identity`);
  }
  const { Decrypter } = await import("age-encryption");
  const check = new Decrypter();
  for (const identity of identities) {
    try {
      check.addIdentity(identity);
    } catch (err) {
      throw new RunError(
        `Cannot read the age identity file "${path}": a line is not an age identity (AGE-SECRET-KEY-1...)`,
        { cause: err },
      );
    }
  }
  return identities;
}

/** An age file that cannot be decrypted: wrong key, or not an age file at all. */
export class DecryptError extends RunError {
  /**
   * @example
   * ```ts ignore
   * throw new DecryptError("no identity matches any of the file's recipients");
   * ```
   */
  /** "Cannot decrypt: DETAIL". */
  constructor(detail: string, options?: ErrorOptions) {
    super(`Cannot decrypt: ${detail}`, options);
  }
}

/**
 * Decrypts an age stream with the first identity that matches one of its recipients. A
 * header that no identity opens throws `DecryptError`; a damaged body makes the stream error.
 *
 * @example
 * ```ts ignore
 * const plain = await decryptStream(file.readable, identities);
 * ```
 */
export async function decryptStream(
  stream: ReadableStream<Uint8Array>,
  identities: readonly string[],
): Promise<ReadableStream<Uint8Array>> {
  const { Decrypter } = await import("age-encryption");
  const decrypter = new Decrypter();
  for (const identity of identities) decrypter.addIdentity(identity);
  try {
    // A chunk that fails its tag, or is missing at the end, fails the stream as it is read.
    return mapFailure(await decrypter.decrypt(stream), (err) =>
      new CorruptArchiveError(
        `the age encryption is damaged or truncated (${describeError(err)})`,
        { cause: err },
      ));
  } catch (err) {
    const message = describeError(err);
    const detail = /no identity matched/i.test(message)
      ? "no identity in the file given matches the archive's recipients"
      : `not a valid age file (${message})`;
    throw new DecryptError(detail, { cause: err });
  }
}
