// gzip compression of the tar stream. CompressionStream flushes on every write, so small
// chunks are first gathered into blocks of at least COALESCE_BYTES.

/** The smallest block handed to the compressor. */
export const COALESCE_BYTES = 128 * 1024;

/**
 * Gathers chunks into blocks of at least `minBytes` (the last one may be shorter).
 *
 * @example
 * ```ts
 * const blocks = readable.pipeThrough(coalesce(65536));
 * ```
 */
export function coalesce(
  minBytes: number = COALESCE_BYTES,
): TransformStream<Uint8Array, Uint8Array<ArrayBuffer>> {
  let block = new Uint8Array(minBytes);
  let filled = 0;
  return new TransformStream({
    transform(chunk, controller) {
      if (filled === 0 && chunk.length >= minBytes) {
        controller.enqueue(chunk as Uint8Array<ArrayBuffer>);
        return;
      }
      let offset = 0;
      while (offset < chunk.length) {
        const n = Math.min(chunk.length - offset, minBytes - filled);
        block.set(chunk.subarray(offset, offset + n), filled);
        filled += n;
        offset += n;
        if (filled === minBytes) {
          controller.enqueue(block);
          block = new Uint8Array(minBytes);
          filled = 0;
        }
      }
    },
    flush(controller) {
      if (filled > 0) controller.enqueue(block.subarray(0, filled));
    },
  });
}

/**
 * Compresses a stream as one gzip member.
 *
 * @example
 * ```ts
 * const gz = gzip(tarStream);
 * ```
 */
export function gzip(readable: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  return readable.pipeThrough(coalesce()).pipeThrough(new CompressionStream("gzip"));
}
