// One WAL file at a time, whole in memory (a segment is 16 MiB): compressed as the archives
// are (gzip or zstd), then encrypted with age when recipients are set; and back. zlib's work
// runs on its own thread pool, so the daemon's loop stays free while a segment is packed.

import { promisify } from "node:util";
import { constants, gunzip, gzip, zstdCompress, zstdDecompress } from "node:zlib";
import type { Compression } from "../store/names.ts";
import { decryptStream, encryptStream } from "./encryption.ts";
import { CorruptArchiveError } from "./read_errors.ts";

const pack = { gzip: promisify(gzip), zstd: promisify(zstdCompress) };
const unpack = { gzip: promisify(gunzip), zstd: promisify(zstdDecompress) };

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * A WAL file's bytes as backupd stores them.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * const wal = new TextEncoder().encode("wal ".repeat(1000));
 * const packed = await packWal(wal, "zstd", []);
 * assertEquals(await unpackWal(packed, "zstd", []), wal);
 * // The frame header's descriptor says a content checksum follows the data.
 * assertEquals(((packed[4] as number) & 0x04) !== 0, true);
 * ```
 */
export async function packWal(
  bytes: Uint8Array,
  compression: Compression,
  recipients: readonly string[],
): Promise<Uint8Array> {
  // Level 1: WAL is mostly page images and zeros, which compress well even so, and a busy
  // server writes a segment every few seconds. zstd writes no content checksum unless
  // told to: without one, damaged data can decode into wrong bytes without an error.
  const compressed = new Uint8Array(
    compression === "gzip"
      ? await pack.gzip(bytes, { level: 1 })
      : await pack.zstd(bytes, { params: { [constants.ZSTD_c_checksumFlag]: 1 } }),
  );
  if (recipients.length === 0) return compressed;
  return await collect(await encryptStream(ReadableStream.from([compressed]), recipients));
}

/**
 * A stored WAL file's bytes as PostgreSQL wrote them; damage is a `CorruptArchiveError`.
 *
 * @example
 * ```ts
 * import { rejects } from "node:assert/strict";
 * await rejects(unpackWal(new Uint8Array([1, 2, 3]), "gzip", []), { name: "CorruptArchiveError" });
 * ```
 */
export async function unpackWal(
  stored: Uint8Array,
  compression: Compression,
  identities: readonly string[],
): Promise<Uint8Array> {
  const compressed = identities.length === 0
    ? stored
    : await collect(await decryptStream(ReadableStream.from([stored]), identities));
  try {
    return new Uint8Array(
      compression === "gzip" ? await unpack.gzip(compressed) : await unpack.zstd(compressed),
    );
  } catch (err) {
    throw new CorruptArchiveError(`the ${compression} data is damaged (${String(err)})`, {
      cause: err,
    });
  }
}
