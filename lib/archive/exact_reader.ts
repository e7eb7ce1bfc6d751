// Reads a file as exactly the size it had when stat'ed, whatever happens to it meanwhile:
// a shrunken file is padded with zeros, a grown one cut, and the change reported. Reads are
// synchronous (for the many small files of a database folder, async reads cost 10x more)
// and go straight into the buffer the bytes are stored from: nothing is allocated per read.

/** How a file's size differed from the stat'ed size while it was read. */
export type SizeChange = "grew" | "shrank";

/** Where the bytes go: read into `room`, then handed on with `took`. */
export interface ExactTarget {
  /** Free space for up to `max` bytes. */
  room(max: number): Uint8Array;
  /** Hands on the `n` bytes just put into `room()`; a promise only when it must wait. */
  took(n: number): Promise<void> | undefined;
}

/** Options of {@linkcode readExactly}. */
export interface ReadExactlyOptions {
  /** Largest read at once. @default {1048576} */
  chunkSize?: number;
  /** Sees each chunk stored, zeros included (for hashing, progress), before it is handed on. */
  onChunk?: (chunk: Uint8Array) => void;
  /** Stops the read between chunks. */
  signal?: AbortSignal;
}

/** One byte, to find out whether a file grew after its last expected byte. */
const probe = new Uint8Array(1);

/**
 * Reads exactly `size` bytes of an open file into `target`; says how the file's size
 * turned out to differ, if it did.
 *
 * @example
 * ```ts ignore
 * const change = await readExactly(file, file.size, entry);
 * if (change) console.warn(`the file ${change} while read`);
 * ```
 */
export async function readExactly(
  file: { readSync(buffer: Uint8Array): number | null },
  size: number,
  target: ExactTarget,
  options: ReadExactlyOptions = {},
): Promise<SizeChange | undefined> {
  const chunkSize = options.chunkSize ?? 1024 * 1024;
  let remaining = size;
  let shrank = false;
  while (remaining > 0) {
    options.signal?.throwIfAborted();
    const room = target.room(Math.min(remaining, chunkSize));
    let n = shrank ? 0 : file.readSync(room) ?? 0;
    if (n === 0) {
      // The file ended early: zeros stand in for what is missing.
      shrank = true;
      room.fill(0);
      n = room.length;
    }
    options.onChunk?.(n === room.length ? room : room.subarray(0, n));
    remaining -= n;
    const wait = target.took(n);
    if (wait) await wait;
  }
  if (shrank) return "shrank";
  const extra = file.readSync(probe);
  return extra !== null && extra > 0 ? "grew" : undefined;
}
