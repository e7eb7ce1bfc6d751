// Reads a file as exactly the size it had when stat'ed, whatever happens to it meanwhile:
// a shrunken file is padded with zeros, a grown one cut, and the change reported.

/** How a file's size differed from the stat'ed size while it was read. */
export type SizeChange = "grew" | "shrank";

/** Options of {@linkcode readExactly}. */
export interface ReadExactlyOptions {
  /** Largest chunk to read at once. @default {262144} */
  chunkSize?: number;
  /** Told once when the file turned out longer or shorter than `size`. */
  onChange?: (change: SizeChange) => void;
}

/**
 * Yields exactly `size` bytes of an open file, in fresh buffers (never reused, so a
 * consumer may keep them).
 *
 * @example
 * ```ts
 * using file = await Deno.open("/etc/hostname");
 * const { size } = await file.stat();
 * for await (const chunk of readExactly(file, size)) console.log(chunk.length);
 * ```
 */
export async function* readExactly(
  file: Deno.FsFile,
  size: number,
  options: ReadExactlyOptions = {},
): AsyncGenerator<Uint8Array<ArrayBuffer>> {
  const chunkSize = options.chunkSize ?? 256 * 1024;
  let remaining = size;
  while (remaining > 0) {
    const buffer = new Uint8Array(Math.min(remaining, chunkSize));
    const n = await file.read(buffer);
    if (n === null || n === 0) break;
    remaining -= n;
    yield n === buffer.length ? buffer : buffer.subarray(0, n);
  }
  if (remaining > 0) {
    options.onChange?.("shrank");
    while (remaining > 0) {
      const zeros = new Uint8Array(Math.min(remaining, chunkSize));
      remaining -= zeros.length;
      yield zeros;
    }
    return;
  }
  const probe = new Uint8Array(1);
  const extra = await file.read(probe);
  if (extra !== null && extra > 0) options.onChange?.("grew");
}
