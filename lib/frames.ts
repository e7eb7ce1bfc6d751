// Decompression for reading archives back. Units that carry their length (backupd's gzip
// members and zstd frames) are inflated in parallel on workers; any other stream goes
// through node:zlib, bridged by async iteration so backpressure holds.

import { Readable } from "node:stream";
import { createGunzip, createZstdDecompress } from "node:zlib";
import type { Transform } from "node:stream";
import { memberLength, zstdUnitLength } from "./units.ts";
import type { Compression } from "./names.ts";
import { noteGarbage } from "./gc.ts";
import { type CodecPool, ordered } from "./workers.ts";

function through(
  source: AsyncIterable<Uint8Array>,
  transform: Transform,
): ReadableStream<Uint8Array> {
  const input = Readable.from(source, { objectMode: false });
  input.on("error", (err) => transform.destroy(err));
  transform.on("close", () => input.destroy());
  input.pipe(transform);
  return ReadableStream.from(transform as AsyncIterable<Uint8Array>);
}

/**
 * Decompresses a gzip (one member or several) or zstd byte stream with node:zlib, on this
 * thread. A truncated or corrupt gzip input makes the stream error.
 *
 * @example
 * ```ts
 * using file = await Deno.open("/backup/2027-01-02/01-00-00.tar.gz");
 * const tar = inflateStream(file.readable, "gzip");
 * ```
 */
export function inflateStream(
  source: AsyncIterable<Uint8Array>,
  compression: Compression,
): ReadableStream<Uint8Array> {
  return through(source, compression === "zstd" ? createZstdDecompress() : createGunzip());
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

async function* inflateUnits(
  source: AsyncIterable<Uint8Array>,
  pool: CodecPool,
  compression: Compression,
): AsyncGenerator<Uint8Array> {
  const unitLength = compression === "zstd" ? zstdUnitLength : memberLength;
  const op = compression === "zstd" ? "unzstd" : "gunzip";
  const reader = new ByteReader(source);
  let plain: AsyncIterable<Uint8Array> | undefined;
  const units = async function* () {
    while (true) {
      const header = await reader.peek(20);
      if (header.length === 0) return;
      const length = unitLength(header);
      if (length === undefined) {
        // Not backupd's framing (another tool's file): the rest goes through node:zlib.
        plain = reader.rest();
        return;
      }
      const unit = await reader.read(length);
      if (unit.length < length) throw new Error("unexpected end of file");
      noteGarbage(2 * length);
      yield unit;
    }
  };
  yield* ordered(units(), (unit) => pool.run(op, unit), 4 * pool.size);
  if (plain) {
    for await (const chunk of inflateStream(plain, compression)) yield chunk;
  }
}

/**
 * Decompresses an archive's bytes, in parallel on `pool` where its units carry their length.
 * A truncated or corrupt input makes the stream error.
 *
 * @example
 * ```ts
 * const tar = inflate(file.readable, pool, "gzip");
 * ```
 */
export function inflate(
  source: AsyncIterable<Uint8Array>,
  pool: CodecPool,
  compression: Compression,
): ReadableStream<Uint8Array> {
  return ReadableStream.from(inflateUnits(source, pool, compression));
}
