// The tar stream's way out: bytes gathered into a fixed set of block buffers that workers
// compress, each into one of a fixed set of output buffers, handed in order to the archive
// file and given back. Nothing is allocated per block: memory stays flat because no
// garbage is made (README: Performance).

import type { Compression } from "../store/names.ts";
import type { CodecPool } from "./codec_pool.ts";
import { UNIT_OVERHEAD } from "./codec_jobs.ts";
import { BufferPool } from "./buffer_pool.ts";

/** The size of the blocks compressed as one member each. */
export const BLOCK_BYTES = 1024 * 1024;

/** An output buffer: a compressed block never outgrows this (deflate and zstd bounds). */
export const OUTPUT_BYTES: number = BLOCK_BYTES + UNIT_OVERHEAD;

/** Where compressed units go, in order; each buffer comes back once written. */
export interface UnitSink {
  /** Writes a unit; resolves with its buffer once written, for reuse. */
  write(unit: Uint8Array<ArrayBuffer>): Promise<ArrayBuffer>;
}

/** A byte stream written into blocks, copied in or read straight into the block. */
export interface TarOut {
  /** Copies `bytes` in; a promise only when it had to wait for a free block. */
  write(bytes: Uint8Array): Promise<void> | undefined;
  /** The free part of the current block (at least one byte), to read into directly. */
  room(): Uint8Array<ArrayBuffer>;
  /** Counts `n` bytes just put into `room()`; a promise only when it had to wait. */
  advance(n: number): Promise<void> | undefined;
}

/** Units a job made itself, the first in the output buffer it was lent. */
export interface JobUnits {
  /** The units, in order. */
  units: Uint8Array<ArrayBuffer>[];
  /** Called when the units' turn in the stream comes, in order. */
  inTurn?: () => void;
}

/** A {@linkcode TarOut} over one buffer that is flushed, synchronously, each time it fills. */
export interface BufferedTarOut extends TarOut {
  /** Flushes what the buffer holds. */
  end(): void;
}

/**
 * A {@linkcode TarOut} over `buffer`, handing what it holds to `flush` each time it fills
 * and at `end()`; never waits (a worker's batch, a plain .tar in tests).
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * const flushed: number[][] = [];
 * const out = bufferedTarOut(new Uint8Array(4), (bytes) => flushed.push([...bytes]));
 * out.write(new Uint8Array([1, 2, 3, 4, 5]));
 * out.room()[0] = 6;
 * out.advance(1);
 * out.end();
 * assertEquals(flushed, [[1, 2, 3, 4], [5, 6]]);
 * ```
 */
export function bufferedTarOut(
  buffer: Uint8Array<ArrayBuffer>,
  flush: (bytes: Uint8Array<ArrayBuffer>) => void,
): BufferedTarOut {
  let filled = 0;
  const full = () => {
    if (filled === 0) return;
    flush(buffer.subarray(0, filled));
    filled = 0;
  };
  return {
    write(bytes) {
      for (let at = 0; at < bytes.length;) {
        const n = Math.min(bytes.length - at, buffer.length - filled);
        buffer.set(bytes.subarray(at, at + n), filled);
        filled += n;
        at += n;
        if (filled === buffer.length) full();
      }
      return undefined;
    },
    room: () => buffer.subarray(filled),
    advance(n) {
      filled += n;
      if (filled === buffer.length) full();
      return undefined;
    },
    end: full,
  };
}

/** A {@linkcode TarOut} whose blocks are compressed into a sink. */
export interface BlockOutput extends TarOut {
  /**
   * Adds units that `make` makes with an output buffer lent to it (a batch packed on a
   * worker), after everything written so far; resolves once they are under way.
   */
  job(make: (output: ArrayBuffer) => Promise<JobUnits>): Promise<void>;
  /** Sends the last block and waits until every unit is in the sink. */
  end(): Promise<void>;
}

/**
 * Compresses what is written in blocks of {@linkcode BLOCK_BYTES} on `pool`'s workers: each
 * block becomes one gzip member or zstd frame, handed to `sink` in order.
 *
 * @example
 * ```ts ignore
 * using pool = startCodecPool();
 * const out = blockOutput(pool, "gzip", archiveFile);
 * await out.write(bytes);
 * await out.end();
 * ```
 */
export function blockOutput(
  pool: CodecPool,
  compression: Compression,
  sink: UnitSink,
): BlockOutput {
  return new BlockWriter(pool, compression === "zstd" ? "zstd" : "gzip", sink);
}

/** The {@linkcode BlockOutput} of {@linkcode blockOutput}. */
class BlockWriter implements BlockOutput {
  readonly #pool: CodecPool;
  readonly #op: "gzip" | "zstd";
  readonly #sink: UnitSink;
  // Enough for every worker to hold one block while the next ones are filled and written.
  readonly #blocks: BufferPool;
  readonly #outputs: BufferPool;
  #block: Uint8Array<ArrayBuffer>;
  #filled = 0;
  /** Units started, and units handed to the sink, in order. */
  #sent = 0;
  #sunk = 0;
  /** Units handed to the sink and not yet back. */
  #inSink = 0;
  readonly #finished = new Map<number, JobUnits>();
  #failure: { error: unknown } | undefined;
  #waiter: (() => void) | undefined;

  constructor(pool: CodecPool, op: "gzip" | "zstd", sink: UnitSink) {
    this.#pool = pool;
    this.#op = op;
    this.#sink = sink;
    this.#blocks = new BufferPool(BLOCK_BYTES, 2 * pool.size + 2);
    this.#outputs = new BufferPool(OUTPUT_BYTES, 2 * pool.size + 2);
    this.#block = new Uint8Array(this.#blocks.take() as ArrayBuffer);
  }

  write(bytes: Uint8Array): Promise<void> | undefined {
    this.#check();
    let offset = 0;
    while (offset < bytes.length) {
      const n = Math.min(bytes.length - offset, BLOCK_BYTES - this.#filled);
      this.#block.set(
        n === bytes.length ? bytes : bytes.subarray(offset, offset + n),
        this.#filled,
      );
      this.#filled += n;
      offset += n;
      if (this.#filled === BLOCK_BYTES) {
        const rest = bytes.subarray(offset);
        return this.#send().then(() => this.write(rest));
      }
    }
    return undefined;
  }

  room(): Uint8Array<ArrayBuffer> {
    return this.#block.subarray(this.#filled);
  }

  advance(n: number): Promise<void> | undefined {
    this.#check();
    this.#filled += n;
    return this.#filled === BLOCK_BYTES ? this.#send() : undefined;
  }

  async job(make: (output: ArrayBuffer) => Promise<JobUnits>): Promise<void> {
    if (this.#filled > 0) await this.#send();
    const output = await this.#lend(this.#outputs);
    make(output).then(this.#settle(this.#sent++), this.#fail);
  }

  async end(): Promise<void> {
    if (this.#filled > 0) await this.#send();
    await this.#waitFor(() => this.#sunk === this.#sent && this.#inSink === 0);
  }

  /** The current block to a worker; the next block once one is free. */
  async #send(): Promise<void> {
    const output = await this.#lend(this.#outputs);
    const seq = this.#sent++;
    this.#pool.run(this.#op, this.#block.buffer, this.#filled, output).then((done) => {
      this.#blocks.give(done.input);
      this.#settle(seq)({ units: [done.result] });
    }, this.#fail);
    this.#block = new Uint8Array(await this.#lend(this.#blocks));
    this.#filled = 0;
  }

  /** A buffer of `pool`, waiting until one is given back when all are lent. */
  async #lend(pool: BufferPool): Promise<ArrayBuffer> {
    let buffer: ArrayBuffer | undefined;
    await this.#waitFor(() => (buffer = pool.take()) !== undefined);
    return buffer as ArrayBuffer;
  }

  /** A job's units, handed on once every earlier unit has been. */
  #settle = (seq: number) => (done: JobUnits): void => {
    this.#finished.set(seq, done);
    this.#drain();
    this.#wake();
  };

  /** Hands finished units to the sink, in order. */
  #drain(): void {
    for (let done = this.#finished.get(this.#sunk); done; done = this.#finished.get(this.#sunk)) {
      this.#finished.delete(this.#sunk);
      this.#sunk++;
      done.inTurn?.();
      done.units.forEach((unit, index) => {
        this.#inSink++;
        // The output buffer a job was lent comes back to the pool; its further buffers go.
        this.#sink.write(unit).then((buffer) => {
          if (index === 0) this.#outputs.give(buffer);
          this.#inSink--;
          this.#wake();
        }, this.#fail);
      });
    }
  }

  #wake(): void {
    const resume = this.#waiter;
    this.#waiter = undefined;
    resume?.();
  }

  #fail = (error: unknown): void => {
    this.#failure ??= { error };
    this.#wake();
  };

  #check(): void {
    if (this.#failure) throw this.#failure.error;
  }

  async #waitFor(ready: () => boolean): Promise<void> {
    this.#check();
    while (!ready()) {
      await new Promise<void>((resolve) => this.#waiter = resolve);
      this.#check();
    }
  }
}
