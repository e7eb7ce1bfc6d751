// gzip decompression for reading archives back: node:zlib, which takes multi-member gzip
// files (DecompressionStream does not), bridged by async iteration so backpressure holds.

import { Readable } from "node:stream";
import { createGunzip } from "node:zlib";

/**
 * Decompresses a gzip byte stream (one member or several) into a ReadableStream.
 * A truncated or corrupt input makes the stream error.
 *
 * @example
 * ```ts
 * using file = await Deno.open("/backup/2027-01-02/01-00-00.tar.gz");
 * const tar = gunzip(file.readable);
 * ```
 */
export function gunzip(source: AsyncIterable<Uint8Array>): ReadableStream<Uint8Array> {
  const inflate = createGunzip();
  const input = Readable.from(source, { objectMode: false });
  input.on("error", (err) => inflate.destroy(err));
  inflate.on("close", () => input.destroy());
  input.pipe(inflate);
  return ReadableStream.from(inflate as AsyncIterable<Uint8Array>);
}
