// Buffers of one size, made on first use up to a limit and given back after each use: the
// blocks and outputs the workers are lent, so that nothing is allocated per block.

/**
 * A pool of `ArrayBuffer`s of `bytes` each, at most `limit` of them.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * const pool = new BufferPool(16, 1);
 * const buffer = pool.take();
 * assertEquals([buffer?.byteLength, pool.take()], [16, undefined]);
 * pool.give(buffer as ArrayBuffer);
 * assertEquals(pool.take(), buffer);
 * ```
 */
export class BufferPool {
  /** The size of each buffer. */
  readonly bytes: number;
  /** How many buffers may exist at once. */
  readonly limit: number;
  readonly #free: ArrayBuffer[] = [];
  #made = 0;

  /** A pool of buffers of `bytes`, at most `limit` (none made yet). */
  constructor(bytes: number, limit = Infinity) {
    this.bytes = bytes;
    this.limit = limit;
  }

  /** A free buffer, made while fewer than `limit` exist; none when all are lent out. */
  take(): ArrayBuffer | undefined {
    const buffer = this.#free.pop();
    if (buffer !== undefined || this.#made >= this.limit) return buffer;
    this.#made++;
    return new ArrayBuffer(this.bytes);
  }

  /** Gives a buffer back; one of another size (made for an odd case) is let go. */
  give(buffer: ArrayBuffer): void {
    if (buffer.byteLength === this.bytes) this.#free.push(buffer);
  }
}
