// Decompression for reading archives back. Units that carry their length (backupd's gzip
// members and zstd frames) are inflated in parallel on workers; any other stream goes
// through node:zlib, bridged by async iteration so backpressure holds.

import { Readable } from "node:stream";
import { createGunzip, createZstdDecompress } from "node:zlib";
import type { Transform } from "node:stream";
import { memberLength, zstdUnitLength } from "./units.ts";
import type { Compression } from "./names.ts";
import { noteGarbage } from "./gc.ts";
import { type CodecPool, ordered } from "./workers.ts";

function through(
  source: AsyncIterable<Uint8Array>,
  transform: Transform,
): ReadableStream<Uint8Array> {
  const input = Readable.from(source, { objectMode: false });
  input.on("error", (err) => transform.destroy(err));
  transform.on("close", () => input.destroy());
  input.pipe(transform);
  return ReadableStream.from(transform as AsyncIterable<Uint8Array>);
}

/**
 * Decompresses a gzip (one member or several) or zstd byte stream with node:zlib, on this
 * thread. A truncated or corrupt gzip input makes the stream error.
 *
 * @example
 * ```ts
 * using file = await Deno.open("/backup/2027-01-02/01-00-00.tar.gz");
 * const tar = inflateStream(file.readable, "gzip");
 * ```
 */
export function inflateStream(
  source: AsyncIterable<Uint8Array>,
  compression: Compression,
): ReadableStream<Uint8Array> {
  return through(source, compression === "zstd" ? createZstdDecompress() : createGunzip());
}

/** Reads into `buffer` until it is full or the file ends; returns the bytes read. */
function readFully(file: Deno.FsFile, buffer: Uint8Array): number {
  let filled = 0;
  while (filled < buffer.length) {
    const n = file.readSync(buffer.subarray(filled));
    if (n === null || n === 0) break;
    filled += n;
  }
  return filled;
}

/** `head`, then the rest of the file, each chunk shown to `onBytes`. */
async function* restOf(
  head: Uint8Array,
  file: Deno.FsFile,
  onBytes: ((chunk: Uint8Array) => void) | undefined,
): AsyncGenerator<Uint8Array> {
  onBytes?.(head);
  yield head;
  for await (const chunk of file.readable) {
    onBytes?.(chunk);
    yield chunk;
  }
}

async function* inflateUnits(
  file: Deno.FsFile,
  pool: CodecPool,
  compression: Compression,
  onBytes: ((chunk: Uint8Array) => void) | undefined,
): AsyncGenerator<Uint8Array> {
  const unitLength = compression === "zstd" ? zstdUnitLength : memberLength;
  const op = compression === "zstd" ? "unzstd" : "gunzip";
  let plain: AsyncIterable<Uint8Array> | undefined;
  // Each unit is read straight into its own buffer, synchronously: no copying, few calls.
  const units = function* () {
    while (true) {
      const header = new Uint8Array(20);
      const got = readFully(file, header);
      if (got === 0) return;
      const length = unitLength(header.subarray(0, got));
      if (length === undefined || length < got) {
        // Not backupd's framing (another tool's file): the rest goes through node:zlib.
        plain = restOf(header.subarray(0, got), file, onBytes);
        return;
      }
      const unit = new Uint8Array(length);
      unit.set(header);
      const read = got + readFully(file, unit.subarray(got));
      onBytes?.(unit.subarray(0, read));
      if (read < length) throw new Error("unexpected end of file");
      noteGarbage(length);
      yield unit;
    }
  };
  yield* ordered(units(), (unit) => pool.run(op, unit), 4 * pool.size);
  if (plain) {
    for await (const chunk of inflateStream(plain, compression)) yield chunk;
  }
}

/**
 * Decompresses an archive file, in parallel on `pool` where its units carry their length;
 * `onBytes` sees every byte of the file once, in order (for hashing).
 * A truncated or corrupt input makes the stream error.
 *
 * @example
 * ```ts
 * const tar = inflate(file, pool, "gzip", (chunk) => hash.update(chunk));
 * ```
 */
export function inflate(
  file: Deno.FsFile,
  pool: CodecPool,
  compression: Compression,
  onBytes?: (chunk: Uint8Array) => void,
): ReadableStream<Uint8Array> {
  return ReadableStream.from(inflateUnits(file, pool, compression, onBytes));
}
