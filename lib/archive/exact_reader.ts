// Reads a file as exactly the size it had when stat'ed, whatever happens to it meanwhile:
// a shrunken file is padded with zeros, a grown one cut, and the change reported. Reads are
// synchronous: for the many small files of a database folder, async reads cost 10x more.

/** How a file's size differed from the stat'ed size while it was read. */
export type SizeChange = "grew" | "shrank";

/** Options of {@linkcode readExactly}. */
export interface ReadExactlyOptions {
  /** Largest chunk to read at once. @default {262144} */
  chunkSize?: number;
  /** Told once when the file turned out longer or shorter than `size`. */
  onChange?: (change: SizeChange) => void;
  /** Hands out a fresh buffer of `n` bytes (an arena may carve them from larger blocks). */
  alloc?: (n: number) => Uint8Array<ArrayBuffer>;
}

/**
 * An allocator that carves buffers out of 1 MiB slabs: thousands of small files then make a
 * few large allocations instead of thousands of small ones, which the allocator returns
 * to the system far more readily.
 *
 * @example
 * ```ts ignore
 * const alloc = slabAllocator();
 * const a = alloc(4096), b = alloc(4096); // views of one slab
 * ```
 */
export function slabAllocator(slabBytes = 1024 * 1024): (n: number) => Uint8Array<ArrayBuffer> {
  let slab = new Uint8Array(0);
  let used = 0;
  return (n) => {
    if (n > slabBytes / 4) return new Uint8Array(n);
    if (used + n > slab.length) {
      slab = new Uint8Array(slabBytes);
      used = 0;
    }
    const view = slab.subarray(used, used + n);
    used += n;
    return view;
  };
}

/**
 * Yields exactly `size` bytes of an open file, in fresh buffers (never reused, so a
 * consumer may keep them).
 *
 * @example
 * ```ts ignore
 * using file = Deno.openSync("/etc/hostname");
 * const { size } = file.statSync();
 * for (const chunk of readExactly(file, size)) console.log(chunk.length);
 * ```
 */
export function* readExactly(
  file: { readSync(buffer: Uint8Array): number | null },
  size: number,
  options: ReadExactlyOptions = {},
): Generator<Uint8Array<ArrayBuffer>> {
  const chunkSize = options.chunkSize ?? 256 * 1024;
  const alloc = options.alloc ?? ((n: number) => new Uint8Array(n));
  let remaining = size;
  while (remaining > 0) {
    const buffer = alloc(Math.min(remaining, chunkSize));
    const n = file.readSync(buffer);
    if (n === null || n === 0) break;
    remaining -= n;
    yield n === buffer.length ? buffer : buffer.subarray(0, n);
  }
  if (remaining > 0) {
    options.onChange?.("shrank");
    while (remaining > 0) {
      const zeros = alloc(Math.min(remaining, chunkSize));
      remaining -= zeros.length;
      yield zeros;
    }
    return;
  }
  const probe = new Uint8Array(1);
  const extra = file.readSync(probe);
  if (extra !== null && extra > 0) options.onChange?.("grew");
}
