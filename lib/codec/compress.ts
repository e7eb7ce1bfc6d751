// Compression of the tar stream, in parallel: the stream is cut into blocks that workers
// compress as independent gzip members or zstd frames (files every reader takes).

import { noteGarbage } from "./gc_hint.ts";
import type { Compression } from "../store/names.ts";
import { type CodecPool, ordered } from "./codec_pool.ts";

/** The size of the blocks compressed as one member each. */
export const BLOCK_BYTES = 1024 * 1024;

/**
 * Gathers chunks into blocks of exactly `size` bytes (the last one may be shorter), each a
 * fresh buffer.
 *
 * @example
 * ```ts ignore
 * for await (const block of blocks(readable, 65536)) console.log(block.length);
 * ```
 */
export async function* blocks(
  source: AsyncIterable<Uint8Array>,
  size: number = BLOCK_BYTES,
): AsyncGenerator<Uint8Array<ArrayBuffer>> {
  let block = new Uint8Array(size);
  let filled = 0;
  for await (const chunk of source) {
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(chunk.length - offset, size - filled);
      block.set(chunk.subarray(offset, offset + n), filled);
      filled += n;
      offset += n;
      if (filled === size) {
        noteGarbage(2 * size);
        yield block;
        block = new Uint8Array(size);
        filled = 0;
      }
    }
  }
  if (filled > 0) yield block.slice(0, filled);
}

/**
 * Compresses a stream in blocks of {@linkcode BLOCK_BYTES} on `pool`'s workers: each block
 * becomes one gzip member or one zstd frame, in order.
 *
 * @example
 * ```ts ignore
 * using pool = startCodecPool();
 * const gz = compress(tarStream, pool, "gzip");
 * ```
 */
export function compress(
  readable: ReadableStream<Uint8Array>,
  pool: CodecPool,
  compression: Compression,
): ReadableStream<Uint8Array> {
  const op = compression === "zstd" ? "zstd" : "gzip";
  return ReadableStream.from(
    ordered(blocks(readable), (block) => pool.run(op, block), pool.size + 1),
  );
}
