// The tar stream's way out: bytes gathered into a fixed set of block buffers that workers
// compress, each into one of a fixed set of output buffers, handed in order to the archive
// file and given back. Nothing is allocated per block: memory stays flat because no
// garbage is made (README: Performance).

import type { Compression } from "../store/names.ts";
import type { CodecPool } from "./codec_pool.ts";
import { UNIT_OVERHEAD } from "./codec_jobs.ts";

/** The size of the blocks compressed as one member each. */
export const BLOCK_BYTES = 1024 * 1024;

/** An output buffer: a compressed block never outgrows this (deflate and zstd bounds). */
export const OUTPUT_BYTES = BLOCK_BYTES + UNIT_OVERHEAD;

/** Where compressed units go, in order; each buffer comes back once written. */
export interface UnitSink {
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
  const op = compression === "zstd" ? "zstd" : "gzip";
  // Enough for every worker to hold one block while the next ones are filled and written.
  const count = 2 * pool.size + 2;
  const freeBlocks: ArrayBuffer[] = [];
  const freeOutputs: ArrayBuffer[] = [];
  let blocks = 1;
  let outputs = 0;
  let block = new Uint8Array(BLOCK_BYTES);
  let filled = 0;
  let sent = 0;
  let sunk = 0;
  /** Units handed to the sink and not yet back. */
  let inSink = 0;
  const finished = new Map<number, JobUnits>();
  let failure: { error: unknown } | undefined;
  let waiter: (() => void) | undefined;

  const wake = () => {
    const resume = waiter;
    waiter = undefined;
    resume?.();
  };
  const fail = (error: unknown) => {
    failure ??= { error };
    wake();
  };
  const check = () => {
    if (failure) throw failure.error;
  };
  const waitFor = async (ready: () => boolean) => {
    check();
    while (!ready()) {
      await new Promise<void>((resolve) => waiter = resolve);
      check();
    }
  };
  /** A lent output buffer back from the sink; a job's further buffers are let go. */
  const returned = (pooled: boolean) => (buffer: ArrayBuffer) => {
    if (pooled) freeOutputs.push(buffer);
    inSink--;
    wake();
  };
  /** Hands finished units to the sink, in order. */
  const drain = () => {
    for (let done = finished.get(sunk); done !== undefined; done = finished.get(sunk)) {
      finished.delete(sunk);
      sunk++;
      done.inTurn?.();
      done.units.forEach((unit, index) => {
        inSink++;
        sink.write(unit).then(returned(index === 0), fail);
      });
    }
  };
  const lendOutput = async () => {
    if (freeOutputs.length === 0 && outputs < count) {
      freeOutputs.push(new ArrayBuffer(OUTPUT_BYTES));
      outputs++;
    }
    await waitFor(() => freeOutputs.length > 0);
    return freeOutputs.pop() as ArrayBuffer;
  };
  const settle = (seq: number) => (done: JobUnits) => {
    finished.set(seq, done);
    drain();
    wake();
  };

  const send = async () => {
    const output = await lendOutput();
    const seq = sent++;
    pool.run(op, block.buffer, filled, output).then((done) => {
      freeBlocks.push(done.input);
      settle(seq)({ units: [done.result] });
    }, fail);
    if (freeBlocks.length === 0 && blocks < count) {
      freeBlocks.push(new ArrayBuffer(BLOCK_BYTES));
      blocks++;
    }
    await waitFor(() => freeBlocks.length > 0);
    block = new Uint8Array(freeBlocks.pop() as ArrayBuffer);
    filled = 0;
  };

  return {
    write(bytes) {
      check();
      let offset = 0;
      while (offset < bytes.length) {
        const n = Math.min(bytes.length - offset, BLOCK_BYTES - filled);
        block.set(n === bytes.length ? bytes : bytes.subarray(offset, offset + n), filled);
        filled += n;
        offset += n;
        if (filled === BLOCK_BYTES) {
          const rest = bytes.subarray(offset);
          return send().then(() => this.write(rest));
        }
      }
      return undefined;
    },
    room() {
      return block.subarray(filled);
    },
    advance(n) {
      check();
      filled += n;
      return filled === BLOCK_BYTES ? send() : undefined;
    },
    async job(make) {
      if (filled > 0) await send();
      const output = await lendOutput();
      make(output).then(settle(sent++), fail);
    },
    async end() {
      if (filled > 0) await send();
      await waitFor(() => sunk === sent && inSink === 0);
    },
  };
}
