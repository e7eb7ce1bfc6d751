// Reading an archive's tar stream back, whatever it was compressed with: gzip or zstd,
// chosen by the file's ending, in parallel where backupd framed the units.

import { inflate } from "./frames.ts";
import { startCodecPool } from "./workers.ts";

/** A tar stream being decompressed; disposing it ends its workers. */
export interface TarSource extends Disposable {
  stream: ReadableStream<Uint8Array>;
}

/**
 * Decompresses `source`, the bytes of the archive at `path`.
 *
 * @example
 * ```ts
 * using file = await Deno.open(path);
 * using tar = decompress(path, file.readable);
 * for await (const chunk of tar.stream) console.log(chunk.length);
 * ```
 */
export function decompress(path: string, source: AsyncIterable<Uint8Array>): TarSource {
  const pool = startCodecPool();
  const compression = path.endsWith(".zst") ? "zstd" : "gzip";
  return { stream: inflate(source, pool, compression), [Symbol.dispose]: () => pool.close() };
}
