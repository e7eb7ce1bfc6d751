// gzip decompression for reading archives back. Members that carry their length (backupd's
// own) are inflated in parallel on workers; any other gzip stream goes through node:zlib,
// bridged by async iteration so backpressure holds.

import { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { noteGarbage } from "./gc.ts";
import { type GzipPool, ordered } from "./workers.ts";

/**
 * Decompresses a gzip byte stream (one member or several) with node:zlib, on this thread.
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

/** Reads exact byte counts from a stream of chunks. */
class ByteReader {
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #source: AsyncIterator<Uint8Array>;
  #done = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#source = source[Symbol.asyncIterator]();
  }

  async #fill(n: number): Promise<void> {
    while (this.#buffered < n && !this.#done) {
      const next = await this.#source.next();
      if (next.done) this.#done = true;
      else {
        this.#chunks.push(next.value);
        this.#buffered += next.value.length;
      }
    }
  }

  /** Up to `n` bytes from the front, without consuming them. */
  async peek(n: number): Promise<Uint8Array> {
    await this.#fill(n);
    return this.#take(Math.min(n, this.#buffered), false);
  }

  /** Up to `n` bytes (fewer only at the end). */
  async read(n: number): Promise<Uint8Array> {
    await this.#fill(n);
    return this.#take(Math.min(n, this.#buffered), true);
  }

  /** Everything not read yet. */
  async *rest(): AsyncGenerator<Uint8Array> {
    yield* this.#chunks;
    this.#chunks = [];
    this.#buffered = 0;
    while (!this.#done) {
      const next = await this.#source.next();
      if (next.done) this.#done = true;
      else yield next.value;
    }
  }

  #take(n: number, consume: boolean): Uint8Array {
    const first = this.#chunks[0];
    if (first && first.length >= n) {
      const out = first.subarray(0, n);
      if (consume) this.#drop(n);
      return out;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    for (const chunk of this.#chunks) {
      if (filled === n) break;
      const part = chunk.subarray(0, n - filled);
      out.set(part, filled);
      filled += part.length;
    }
    if (consume) this.#drop(n);
    return out;
  }

  #drop(n: number): void {
    this.#buffered -= n;
    while (n > 0) {
      const first = this.#chunks[0] as Uint8Array;
      if (first.length <= n) {
        n -= first.length;
        this.#chunks.shift();
      } else {
        this.#chunks[0] = first.subarray(n);
        n = 0;
      }
    }
  }
}

/**
 * The length a gzip member header declares in backupd's `BD` extra subfield, if any.
 *
 * @example
 * ```ts
 * memberLength(header); // 1048731, or undefined for a plain gzip member
 * ```
 */
export function memberLength(header: Uint8Array): number | undefined {
  if (header.length < 20 || header[0] !== 0x1f || header[1] !== 0x8b || header[2] !== 8) {
    return undefined;
  }
  if (((header[3] ?? 0) & 0x04) === 0) return undefined;
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  if (
    view.getUint16(10, true) !== 8 || header[12] !== 0x42 || header[13] !== 0x44 ||
    view.getUint16(14, true) !== 4
  ) {
    return undefined;
  }
  return view.getUint32(16, true);
}

async function* inflateMembers(
  source: AsyncIterable<Uint8Array>,
  pool: GzipPool,
): AsyncGenerator<Uint8Array> {
  const reader = new ByteReader(source);
  let plain: AsyncIterable<Uint8Array> | undefined;
  const framed = async function* () {
    while (true) {
      const header = await reader.peek(20);
      if (header.length === 0) return;
      const length = memberLength(header);
      if (length === undefined) {
        // Not backupd's framing (another tool's gzip): the rest goes through node:zlib.
        plain = reader.rest();
        return;
      }
      const member = await reader.read(length);
      if (member.length < length) throw new Error("unexpected end of file");
      noteGarbage(2 * length);
      yield member;
    }
  };
  yield* ordered(framed(), (member) => pool.run("gunzip", member), 4 * pool.size);
  if (plain) {
    for await (const chunk of gunzip(plain)) yield chunk;
  }
}

/**
 * Decompresses a gzip byte stream, in parallel on `pool` where its members carry their
 * length. A truncated or corrupt input makes the stream error.
 *
 * @example
 * ```ts
 * const tar = gunzipParallel(file.readable, pool);
 * ```
 */
export function gunzipParallel(
  source: AsyncIterable<Uint8Array>,
  pool: GzipPool,
): ReadableStream<Uint8Array> {
  return ReadableStream.from(inflateMembers(source, pool));
}
