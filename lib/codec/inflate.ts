// Decompression for reading archives back. Units that carry their length (backupd's gzip
// members and zstd frames) are inflated in parallel on workers; any other stream goes
// through node:zlib, bridged by async iteration so backpressure holds. The bytes come from
// a file (read synchronously: few calls, no copies) or from a stream (a download, age).

import { BufferPool } from "./buffer_pool.ts";
import { OUTPUT_BYTES } from "./block_output.ts";
import { Readable } from "node:stream";
import { createGunzip, createZstdDecompress } from "node:zlib";
import type { Transform } from "node:stream";
import { memberLength, zstdUnitLength } from "./framing.ts";
import type { Compression } from "../store/names.ts";
import { type CodecPool, ordered } from "./codec_pool.ts";
import { mapFailure, TruncatedArchiveError, zlibFailure } from "./read_errors.ts";

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
 * ```ts ignore
 * using file = await Deno.open("/backup/2027-01-02/01-00-00.tar.gz");
 * const tar = inflateStream(file.readable, "gzip");
 * ```
 */
export function inflateStream(
  source: AsyncIterable<Uint8Array>,
  compression: Compression,
): ReadableStream<Uint8Array> {
  return mapFailure(
    through(source, compression === "zstd" ? createZstdDecompress() : createGunzip()),
    (err) => zlibFailure(err, compression),
  );
}

/** Where compressed bytes come from: `fill` reads until `buffer` is full or the input ends. */
export interface ByteReader {
  /** Returns the bytes read; fewer than `buffer.length` only at the end. */
  fill(buffer: Uint8Array): number | Promise<number>;
}

/**
 * Reads a file synchronously.
 *
 * @example
 * ```ts ignore
 * using file = await Deno.open("/backup/2027-01-02/01-00-00.tar.gz");
 * const reader = fileReader(file);
 * ```
 */
export function fileReader(file: Deno.FsFile): ByteReader {
  return {
    fill(buffer) {
      let filled = 0;
      while (filled < buffer.length) {
        const n = file.readSync(buffer.subarray(filled));
        if (n === null || n === 0) break;
        filled += n;
      }
      return filled;
    },
  };
}

/**
 * Reads a stream, keeping what a chunk holds beyond the buffer for the next call.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * const reader = streamReader(ReadableStream.from([new Uint8Array([1, 2, 3]), new Uint8Array([4])]));
 * const buffer = new Uint8Array(2);
 * assertEquals([await reader.fill(buffer), [...buffer]], [2, [1, 2]]);
 * assertEquals([await reader.fill(buffer), [...buffer]], [2, [3, 4]]);
 * assertEquals(await reader.fill(buffer), 0);
 * ```
 */
export function streamReader(stream: ReadableStream<Uint8Array>): ByteReader {
  const chunks = stream[Symbol.asyncIterator]();
  let rest: Uint8Array = new Uint8Array(0);
  return {
    async fill(buffer) {
      let filled = 0;
      while (filled < buffer.length) {
        if (rest.length === 0) {
          const next = await chunks.next();
          if (next.done) break;
          rest = next.value;
          continue;
        }
        const n = Math.min(rest.length, buffer.length - filled);
        buffer.set(rest.subarray(0, n), filled);
        rest = rest.subarray(n);
        filled += n;
      }
      return filled;
    },
  };
}

/**
 * A reader that shows every byte it reads to `onBytes`, once and in order (for hashing).
 *
 * @example
 * ```ts ignore
 * const reader = tappedReader(fileReader(file), (chunk) => hash.update(chunk));
 * ```
 */
export function tappedReader(
  reader: ByteReader,
  onBytes: (chunk: Uint8Array) => void,
): ByteReader {
  const seen = (buffer: Uint8Array, n: number) => {
    if (n > 0) onBytes(buffer.subarray(0, n));
    return n;
  };
  return {
    fill(buffer) {
      const n = reader.fill(buffer);
      return typeof n === "number" ? seen(buffer, n) : n.then((m) => seen(buffer, m));
    },
  };
}

/** `head`, then the rest of the input. */
async function* restOf(head: Uint8Array, reader: ByteReader): AsyncGenerator<Uint8Array> {
  yield head;
  while (true) {
    const chunk = new Uint8Array(256 * 1024);
    const n = await reader.fill(chunk);
    if (n === 0) return;
    yield chunk.subarray(0, n);
  }
}

/** Plain bytes as they are handed on, and what the reader is done with. */
export interface PlainStream {
  /** The plain bytes, in order. */
  stream: ReadableStream<Uint8Array>;
  /**
   * Told of each content chunk the tar reader handed on and the caller has finished with:
   * every buffer handed out before that chunk's is then free for reuse.
   */
  seen(chunk: Uint8Array): void;
}

/**
 * Inflated units, each in an output buffer lent to a worker and reused once the reader is
 * done with it: the tar reader takes each in order and keeps views of its bytes until it has
 * handed them on, so a content chunk from a later buffer means the earlier ones are free.
 */
function inflateUnits(reader: ByteReader, pool: CodecPool, compression: Compression): PlainStream {
  const op = compression === "zstd" ? "unzstd" : "gunzip";
  // Each unit is read straight into a buffer lent to a worker and given back: no copying,
  // few calls, no garbage. A unit of backupd's is at most a block that did not compress.
  const inputs = new BufferPool(OUTPUT_BYTES);
  const outputs = new BufferPool(OUTPUT_BYTES);
  const handed = new HandedBuffers(outputs);
  const units = new UnitReader(reader, compression, inputs);
  const inflateUnit = (unit: Uint8Array<ArrayBuffer>) =>
    pool.run(op, unit.buffer, unit.length, outputs.take() as ArrayBuffer).then(
      (done) => {
        inputs.give(done.input);
        return done.result;
      },
      (err) => {
        throw zlibFailure(err, compression);
      },
    );
  const all = async function* () {
    for await (const result of ordered(units.units(), inflateUnit, 4 * pool.size)) {
      handed.hand(result.buffer);
      yield result;
    }
    // Not backupd's framing (another tool's file): the rest goes through node:zlib.
    if (units.foreign) {
      for await (const chunk of inflateStream(units.foreign, compression)) yield chunk;
    }
  };
  return { stream: ReadableStream.from(all()), seen: (chunk) => handed.seen(chunk) };
}

/** The framed units of an archive, each read into a pooled buffer; the rest if unframed. */
class UnitReader {
  /** What follows once the input is not in backupd's framing, if it is not. */
  foreign: AsyncIterable<Uint8Array> | undefined;
  readonly #reader: ByteReader;
  readonly #compression: Compression;
  readonly #inputs: BufferPool;
  readonly #header = new Uint8Array(20);

  constructor(reader: ByteReader, compression: Compression, inputs: BufferPool) {
    this.#reader = reader;
    this.#compression = compression;
    this.#inputs = inputs;
  }

  /** The units in order; ends at the end of the input or where the framing stops. */
  async *units(): AsyncGenerator<Uint8Array<ArrayBuffer>> {
    const unitLength = this.#compression === "zstd" ? zstdUnitLength : memberLength;
    while (true) {
      const got = await this.#reader.fill(this.#header);
      if (got === 0) return;
      const length = unitLength(this.#header.subarray(0, got));
      if (length === undefined || length < got) {
        this.foreign = restOf(this.#header.slice(0, got), this.#reader);
        return;
      }
      const buffer = length <= this.#inputs.bytes
        ? this.#inputs.take() as ArrayBuffer
        : new ArrayBuffer(length);
      const unit = new Uint8Array(buffer, 0, length);
      unit.set(this.#header.subarray(0, got));
      const read = got + await this.#reader.fill(unit.subarray(got));
      if (read < length) {
        throw new TruncatedArchiveError(`the ${this.#compression} stream is truncated`);
      }
      yield unit;
    }
  }
}

/** Output buffers handed to the reader in order, given back once it is done with them. */
class HandedBuffers {
  readonly #pool: BufferPool;
  /** Buffers handed out and not yet given back, with their place in that order. */
  readonly #handed: { buffer: ArrayBuffer; seq: number }[] = [];
  readonly #seqOf = new Map<ArrayBuffer, number>();
  #count = 0;

  constructor(pool: BufferPool) {
    this.#pool = pool;
  }

  /** A buffer handed to the reader. */
  hand(buffer: ArrayBuffer): void {
    const seq = this.#count++;
    this.#handed.push({ buffer, seq });
    this.#seqOf.set(buffer, seq);
  }

  /** A chunk the reader is done with: every buffer handed out before its one is free. */
  seen(chunk: Uint8Array): void {
    const seq = this.#seqOf.get(chunk.buffer as ArrayBuffer);
    if (seq === undefined) return;
    while (this.#handed.length > 0 && (this.#handed[0]?.seq ?? Infinity) < seq) {
      const { buffer } = this.#handed.shift() as { buffer: ArrayBuffer };
      this.#seqOf.delete(buffer);
      this.#pool.give(buffer);
    }
  }
}

/**
 * Decompresses an archive, in parallel on `pool` where its units carry their length.
 * A truncated or corrupt input makes the stream error.
 *
 * @example
 * ```ts ignore
 * const tar = inflate(fileReader(file), pool, "gzip");
 * ```
 */
export function inflate(
  reader: ByteReader,
  pool: CodecPool,
  compression: Compression,
): PlainStream {
  return inflateUnits(reader, pool, compression);
}
