// gzip compression of the tar stream, in parallel: the stream is cut into blocks that
// workers compress as independent gzip members (a multi-member file every reader takes).

import { noteGarbage } from "./gc.ts";
import { type GzipPool, ordered } from "./workers.ts";

/** The size of the blocks compressed as one member each. */
export const BLOCK_BYTES = 1024 * 1024;

/**
 * Gathers chunks into blocks of exactly `size` bytes (the last one may be shorter), each a
 * fresh buffer.
 *
 * @example
 * ```ts
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
 * Compresses a stream as gzip members of {@linkcode BLOCK_BYTES} each, on `pool`'s workers.
 *
 * @example
 * ```ts
 * const pool = startGzipPool();
 * const gz = gzip(tarStream, pool);
 * ```
 */
export function gzip(
  readable: ReadableStream<Uint8Array>,
  pool: GzipPool,
): ReadableStream<Uint8Array> {
  return ReadableStream.from(
    ordered(blocks(readable), (block) => pool.run("gzip", block), 2 * pool.size + 1),
  );
}
