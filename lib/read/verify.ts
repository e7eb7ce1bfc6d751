// `backupd verify`: the sidecar's sha256, a complete gzip stream with valid checksums,
// every tar header valid (modern-tar's strict decoder), every entry's bytes, the end marker.
// An encrypted archive is decrypted on the way; without an identity only its hash is checked.

import { createHash } from "node:crypto";
import { createTarDecoder } from "modern-tar";
import { decompress, type TarSource } from "../codec/decompress.ts";
import { DecryptError } from "../codec/encryption.ts";
import { isEncryptedName } from "../store/names.ts";
import { describeError } from "../base/errors.ts";
import { ArchiveReadError, InvalidTarError, TruncatedArchiveError } from "../codec/read_errors.ts";
import { hashFile, readSidecar, type SidecarHash } from "../store/sidecar.ts";

/** The verdict on one archive. */
export interface VerifyResult {
  /** Whether every check passed. */
  ok: boolean;
  /** Why it failed. */
  reason?: string;
  /** Whether a sidecar was there to check the hash against. */
  hashChecked: boolean;
  /** Whether the content was read (false for an encrypted archive without an identity). */
  contentChecked: boolean;
  /** Entries read. */
  entries: number;
  /** Bytes of entry content read. */
  bytes: number;
}

/** What `verify` prints for a failure: what the reader that found it said. */
function describe(err: unknown): string {
  if (err instanceof ArchiveReadError || err instanceof DecryptError) return err.message;
  return `the archive cannot be read (${describeError(err)})`;
}

async function readTar(tar: TarSource): Promise<{ entries: number; bytes: number }> {
  let entries = 0;
  let bytes = 0;
  try {
    for await (const entry of tar.stream.pipeThrough(createTarDecoder({ strict: true }))) {
      let n = 0;
      for await (const chunk of entry.body) {
        n += chunk.length;
        tar.seen(chunk);
      }
      if (n !== entry.header.size) {
        throw new InvalidTarError(
          `the tar stream is invalid (entry "${entry.header.name}" holds ${n} bytes where its header says ${entry.header.size})`,
        );
      }
      entries++;
      bytes += n;
    }
  } catch (err) {
    throw tarFailure(err);
  }
  return { entries, bytes };
}

/** A failure met while decoding tar: the decompressor's own, or the tar decoder's. */
function tarFailure(err: unknown): unknown {
  if (err instanceof ArchiveReadError || err instanceof DecryptError) return err;
  const message = describeError(err);
  // modern-tar's strict decoder says "truncated" for a stream cut inside an entry or
  // before the end-of-archive marker.
  if (/truncated/i.test(message)) {
    return new TruncatedArchiveError(
      `the tar stream is truncated or has no end-of-archive marker (${message})`,
      { cause: err },
    );
  }
  return new InvalidTarError(`the tar stream is invalid (${message})`, { cause: err });
}

/** Options of {@linkcode verifyArchive}. */
export interface VerifyOptions {
  /** age identities for encrypted archives; without them only the hash is checked. */
  identities?: readonly string[];
}

/** Options of {@linkcode verifyBytes}. */
export interface VerifyBytesOptions extends VerifyOptions {
  /** What the archive's sidecar says. */
  sidecar: SidecarHash;
  /** Hashes the whole archive again, after a read that stopped early. */
  rehash?: () => Promise<string>;
}

/**
 * Checks an archive called `name` read from `bytes` against what its sidecar says.
 *
 * @example
 * ```ts ignore
 * const result = await verifyBytes("01-00-00.tar.gz", response.body, {
 *   sidecar: { hex: "ab12..." },
 * });
 * ```
 */
export async function verifyBytes(
  name: string,
  bytes: Deno.FsFile | ReadableStream<Uint8Array>,
  options: VerifyBytesOptions,
): Promise<VerifyResult> {
  const { sidecar } = options;
  const hashChecked = "hex" in sidecar;
  if ("invalid" in sidecar) {
    return {
      ok: false,
      reason: sidecar.invalid,
      hashChecked: false,
      contentChecked: false,
      entries: 0,
      bytes: 0,
    };
  }
  const hash = createHash("sha256");
  const contentChecked = !isEncryptedName(name) || (options.identities?.length ?? 0) > 0;
  let stats = { entries: 0, bytes: 0 };
  let failure: unknown;
  let complete = true;
  try {
    if (contentChecked) {
      using tar = await decompress(name, bytes, {
        onBytes: (chunk) => hash.update(chunk),
        ...(options.identities ? { identities: options.identities } : {}),
      });
      stats = await readTar(tar);
    } else {
      const stored = bytes instanceof ReadableStream ? bytes : bytes.readable;
      for await (const chunk of stored) hash.update(chunk);
    }
  } catch (err) {
    failure = err;
    complete = false;
  }
  // After a failure the read stopped early: hash the whole archive again to judge it.
  const hex = complete ? hash.digest("hex") : await options.rehash?.();
  const judged = { hashChecked, contentChecked, ...stats };
  if ("hex" in sidecar && hex !== undefined && hex !== sidecar.hex) {
    return { ok: false, reason: "the sha256 does not match the sidecar", ...judged };
  }
  if (failure !== undefined) {
    return { ok: false, reason: describe(failure), ...judged };
  }
  return { ok: true, ...judged };
}

/**
 * Checks one archive file end to end.
 *
 * @example
 * ```ts ignore
 * const result = await verifyArchive("/backup/2027-01-02/01-00-00.tar.gz");
 * console.log(result.ok ? "OK" : `FAILED: ${result.reason}`);
 * ```
 */
export async function verifyArchive(
  path: string,
  options: VerifyOptions = {},
): Promise<VerifyResult> {
  const sidecar = await readSidecar(path);
  using file = await Deno.open(path);
  return await verifyBytes(path, file, { ...options, sidecar, rehash: () => hashFile(path) });
}
