// Reading an archive's tar stream back, whatever it was stored as: gzip or zstd, age
// encrypted or not, chosen by the name's ending; from a file or a download.

import { decryptStream } from "./encryption.ts";
import { RunError } from "../base/errors.ts";
import {
  type ByteReader,
  fileReader,
  inflate,
  type PlainStream,
  streamReader,
  tappedReader,
} from "./inflate.ts";
import { compressionOfName, isEncryptedName } from "../store/names.ts";
import { startCodecPool } from "./codec_pool.ts";

/** A tar stream being decompressed; disposing it ends its workers. */
export interface TarSource extends PlainStream, Disposable {}

/** Options of {@linkcode decompress}. */
export interface DecompressOptions {
  /** Sees every byte as stored (before decryption), once and in order: for hashing. */
  onBytes?: (chunk: Uint8Array) => void;
  /** age identities for an encrypted archive. */
  identities?: readonly string[];
}

/** The stream, with every chunk shown to `onBytes` on its way through. */
function tappedStream(
  stream: ReadableStream<Uint8Array>,
  onBytes: ((chunk: Uint8Array) => void) | undefined,
): ReadableStream<Uint8Array> {
  if (!onBytes) return stream;
  return stream.pipeThrough(
    new TransformStream({
      transform(chunk, controller) {
        onBytes(chunk);
        controller.enqueue(chunk);
      },
    }),
  );
}

/**
 * Decompresses (and decrypts) the archive called `name`, read from an open file or a stream.
 *
 * @example
 * ```ts ignore
 * using file = await Deno.open(path);
 * using tar = await decompress(path, file);
 * for await (const chunk of tar.stream) console.log(chunk.length);
 * ```
 */
export async function decompress(
  name: string,
  bytes: Deno.FsFile | ReadableStream<Uint8Array>,
  options: DecompressOptions = {},
): Promise<TarSource> {
  const { onBytes } = options;
  let reader: ByteReader;
  if (isEncryptedName(name)) {
    if (!options.identities || options.identities.length === 0) {
      throw new RunError(`Cannot read "${name}": it is encrypted; give --age-identity FILE`);
    }
    // The stored bytes are the encrypted ones: they are seen before decryption.
    const stored = bytes instanceof ReadableStream ? bytes : bytes.readable;
    reader = streamReader(await decryptStream(tappedStream(stored, onBytes), options.identities));
  } else {
    const plain = bytes instanceof ReadableStream ? streamReader(bytes) : fileReader(bytes);
    reader = onBytes ? tappedReader(plain, onBytes) : plain;
  }
  const pool = startCodecPool();
  return {
    ...inflate(reader, pool, compressionOfName(name)),
    [Symbol.dispose]: () => pool.close(),
  };
}
