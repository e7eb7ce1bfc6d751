// Reading an archive's tar stream back, whatever it was compressed with: gzip or zstd,
// chosen by the file's ending, in parallel where backupd framed the units.

import { inflate } from "./frames.ts";
import { startCodecPool } from "./workers.ts";

/** A tar stream being decompressed; disposing it ends its workers. */
export interface TarSource extends Disposable {
  stream: ReadableStream<Uint8Array>;
}

/**
 * Decompresses the archive at `path` from its open `file`; `onBytes` sees every byte read.
 *
 * @example
 * ```ts
 * using file = await Deno.open(path);
 * using tar = decompress(path, file);
 * for await (const chunk of tar.stream) console.log(chunk.length);
 * ```
 */
export function decompress(
  path: string,
  file: Deno.FsFile,
  onBytes?: (chunk: Uint8Array) => void,
): TarSource {
  const pool = startCodecPool();
  const compression = path.endsWith(".zst") ? "zstd" : "gzip";
  return {
    stream: inflate(file, pool, compression, onBytes),
    [Symbol.dispose]: () => pool.close(),
  };
}
