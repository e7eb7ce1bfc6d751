// `backupd verify`: the sidecar's sha256, a complete gzip stream with valid checksums,
// every tar header valid (modern-tar's strict decoder), every entry's bytes, the end marker.

import { createHash } from "node:crypto";
import { createTarDecoder } from "modern-tar";
import { decompress } from "./decompress.ts";
import { hashFile, readSidecar } from "./sidecar.ts";

/** The verdict on one archive. */
export interface VerifyResult {
  ok: boolean;
  /** Why it failed. */
  reason?: string;
  /** Whether a sidecar was there to check the hash against. */
  hashChecked: boolean;
  /** Entries read. */
  entries: number;
  /** Bytes of entry content read. */
  bytes: number;
}

function describe(err: unknown, kind: string): string {
  const message = err instanceof Error ? err.message : String(err);
  if (/unexpected end of file/i.test(message)) return `the ${kind} stream is truncated`;
  if (
    /incorrect (data|header) check|invalid|corrupt|zstd/i.test(message) && !/tar/i.test(message)
  ) {
    return `the ${kind} stream is corrupt (${message})`;
  }
  if (/truncated/i.test(message)) {
    return `the tar stream is truncated or has no end-of-archive marker (${message})`;
  }
  return `the tar stream is invalid (${message})`;
}

async function readTar(
  stream: ReadableStream<Uint8Array>,
): Promise<{ entries: number; bytes: number }> {
  let entries = 0;
  let bytes = 0;
  for await (const entry of stream.pipeThrough(createTarDecoder({ strict: true }))) {
    let n = 0;
    for await (const chunk of entry.body) n += chunk.length;
    if (n !== entry.header.size) {
      throw new Error(
        `entry "${entry.header.name}" holds ${n} bytes where its header says ${entry.header.size}`,
      );
    }
    entries++;
    bytes += n;
  }
  return { entries, bytes };
}

/**
 * Checks one archive end to end.
 *
 * @example
 * ```ts
 * const result = await verifyArchive("/backup/2027-01-02/01-00-00.tar.gz");
 * console.log(result.ok ? "OK" : `FAILED: ${result.reason}`);
 * ```
 */
export async function verifyArchive(path: string): Promise<VerifyResult> {
  const sidecar = await readSidecar(path);
  const hashChecked = "hex" in sidecar;
  if ("invalid" in sidecar) {
    return { ok: false, reason: sidecar.invalid, hashChecked: false, entries: 0, bytes: 0 };
  }
  const hash = createHash("sha256");
  using file = await Deno.open(path);
  let stats = { entries: 0, bytes: 0 };
  let failure: unknown;
  try {
    using tar = decompress(path, file, (chunk) => hash.update(chunk));
    stats = await readTar(tar.stream);
  } catch (err) {
    failure = err;
  }
  // After a failure the stream stopped early: hash the whole file again to judge it.
  const hex = failure === undefined ? hash.digest("hex") : await hashFile(path);
  if ("hex" in sidecar && hex !== sidecar.hex) {
    return { ok: false, reason: "the sha256 does not match the sidecar", hashChecked, ...stats };
  }
  if (failure !== undefined) {
    return {
      ok: false,
      reason: describe(failure, path.endsWith(".zst") ? "zstd" : "gzip"),
      hashChecked,
      ...stats,
    };
  }
  return { ok: true, hashChecked, ...stats };
}
