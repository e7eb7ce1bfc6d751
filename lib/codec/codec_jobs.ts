// The codec work itself, as the workers do it: a block compressed into one gzip member or
// one zstd frame, each carrying its own length where readers skip it (a gzip extra field, a
// zstd skippable frame) so they can find the next without inflating; or one inflated.
//
// Compression makes no garbage: node:zlib's engine is driven directly (its handle's
// writeSync, as node:zlib's own sync calls do), reset for each unit, reading the block it is
// given and writing into the output it is given.

import zlib, { constants, gunzipSync, zstdDecompressSync } from "node:zlib";
import { frameGzipMember, frameZstdUnit, GZIP_EXTRA, ZSTD_PREFIX } from "./framing.ts";

/** A job for a worker: `input` holds `length` bytes; `output` is lent for compression. */
export interface Job {
  /** The pool's number for the job. */
  id: number;
  /** Compress or decompress, gzip or zstd. */
  op: "gzip" | "gunzip" | "zstd" | "unzstd";
  /** The buffer holding the input, transferred. */
  input: ArrayBuffer;
  /** How many bytes of `input` are the input. */
  length: number;
  /** A buffer lent for the result, transferred; else the worker makes one. */
  output?: ArrayBuffer;
}

/**
 * A job's answer: the result is `length` bytes at `offset` of `output`; `input` (and the
 * lent `output`) come back for reuse.
 */
export type Answer =
  | { id: number; input: ArrayBuffer; output: ArrayBuffer; offset: number; length: number }
  | { id: number; error: string; input?: ArrayBuffer; output?: ArrayBuffer };

/** zlib's output buffer for inflating: large enough for a whole unit's output in one piece. */
const CHUNK = 2 * 1024 * 1024;

/** What a compressed unit can take beyond its input: above deflate's and zstd's bounds. */
export const UNIT_OVERHEAD = 64 * 1024;

/** node:zlib's engine underneath a stream object: what its own sync calls drive. */
interface Engine {
  writeSync(
    flush: number,
    input: Uint8Array,
    inOffset: number,
    inLength: number,
    output: Uint8Array,
    outOffset: number,
    outLength: number,
  ): void;
  reset(): void;
}

interface Driven {
  engine: Engine;
  /** [output bytes left, input bytes left] after each writeSync. */
  state: Uint32Array;
  finish: number;
}

function drive(stream: unknown, finish: number): Driven {
  const inner = stream as { _handle?: Engine; _writeState?: Uint32Array };
  if (!inner._handle?.writeSync || !inner._writeState) {
    throw new Error("this runtime's node:zlib does not expose its engine");
  }
  return { engine: inner._handle, state: inner._writeState, finish };
}

let gzip: Driven | undefined;
let zstd: Driven | undefined;
let gunzip: (Driven & { error: string | undefined }) | undefined;

/** A gunzip engine whose errors are caught as they happen, not emitted as stream events. */
function gunzipEngine(): Driven & { error: string | undefined } {
  if (gunzip) return gunzip;
  const stream = zlib.createGunzip();
  const driven = { ...drive(stream, constants.Z_FINISH), error: undefined as string | undefined };
  (driven.engine as unknown as { onerror: (message: string) => void }).onerror = (message) => {
    driven.error = message;
  };
  return gunzip = driven;
}

/**
 * Inflates one gzip member into `output` without allocating; the plain length, or
 * undefined when the member does not fit or is more than one member (node:zlib then
 * takes it). A damaged member throws; the engine is then not used again.
 */
function gunzipInto(input: Uint8Array, output: Uint8Array): number | undefined {
  const driven = gunzipEngine();
  if (driven.error) {
    gunzip = undefined;
    return gunzipInto(input, output);
  }
  driven.engine.reset();
  driven.engine.writeSync(driven.finish, input, 0, input.length, output, 0, output.length);
  if (driven.error) throw new Error(driven.error);
  const [outLeft, inLeft] = driven.state as unknown as [number, number];
  if (outLeft === 0 || inLeft !== 0) return undefined;
  return output.length - outLeft;
}

function engineFor(op: "gzip" | "zstd"): Driven {
  if (op === "gzip") {
    return gzip ??= drive(zlib.createGzip({ level: 6 }), constants.Z_FINISH);
  }
  return zstd ??= drive(
    zlib.createZstdCompress({
      params: { [constants.ZSTD_c_compressionLevel]: 3, [constants.ZSTD_c_checksumFlag]: 1 },
    }),
    constants.ZSTD_e_end,
  );
}

/**
 * Compresses `input` into one framed unit at the start of `output` (which must have room
 * for `input.length + UNIT_OVERHEAD`); returns the unit's length.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { gunzipSync } from "node:zlib";
 * const input = new TextEncoder().encode("backupd ".repeat(1000));
 * const output = new Uint8Array(input.length + UNIT_OVERHEAD);
 * const length = compressUnit("gzip", input, output);
 * assertEquals(new Uint8Array(gunzipSync(output.subarray(0, length))), input);
 * ```
 */
export function compressUnit(op: "gzip" | "zstd", input: Uint8Array, output: Uint8Array): number {
  const { engine, state, finish } = engineFor(op);
  const room = op === "gzip" ? GZIP_EXTRA : ZSTD_PREFIX;
  engine.reset();
  const space = output.length - room;
  engine.writeSync(finish, input, 0, input.length, output, room, space);
  // With room left over and nothing left to read, the unit is complete.
  if (state[0] === 0 || state[1] !== 0) throw new Error("the output buffer is too small");
  const end = room + space - (state[0] as number);
  return op === "gzip" ? frameGzipMember(output, end) : frameZstdUnit(output, end);
}

/**
 * Does one codec job.
 *
 * @example
 * ```ts ignore
 * self.postMessage(runJob(job));
 * ```
 */
export function runJob(job: Job): Answer {
  const input = new Uint8Array(job.input, 0, job.length);
  if (job.op === "gzip" || job.op === "zstd") {
    const output = new Uint8Array(job.output as ArrayBuffer);
    const length = compressUnit(job.op, input, output);
    return { id: job.id, input: job.input, output: output.buffer, offset: 0, length };
  }
  const lent = job.output && new Uint8Array(job.output);
  if (job.op === "gunzip" && lent) {
    const length = gunzipInto(input, lent);
    if (length !== undefined) {
      return { id: job.id, input: job.input, output: lent.buffer, offset: 0, length };
    }
  }
  const plain = job.op === "gunzip"
    ? gunzipSync(input, { chunkSize: CHUNK })
    : zstdDecompressSync(input.subarray(ZSTD_PREFIX), { chunkSize: CHUNK });
  if (lent && plain.length <= lent.length) {
    lent.set(plain);
    return { id: job.id, input: job.input, output: lent.buffer, offset: 0, length: plain.length };
  }
  // Small results may sit in a shared buffer pool: copy those, hand over the rest.
  const own = plain.length < 65536 ? plain.slice() : plain;
  return {
    id: job.id,
    input: job.input,
    output: own.buffer as ArrayBuffer,
    offset: own.byteOffset,
    length: own.length,
  };
}

/**
 * Does one codec job and answers it through `post`, handing the buffers back.
 *
 * @example
 * ```ts ignore
 * answerJob(event.data, (answer, transfer) => self.postMessage(answer, transfer));
 * ```
 */
export function answerJob(job: Job, post: (answer: Answer, transfer: ArrayBuffer[]) => void): void {
  let answer: Answer;
  try {
    answer = runJob(job);
  } catch (err) {
    const failed: Answer = { id: job.id, error: err instanceof Error ? err.message : String(err) };
    if (job.input.byteLength > 0) failed.input = job.input;
    if (job.output && job.output.byteLength > 0) failed.output = job.output;
    answer = failed;
  }
  const transfer = [answer.input, answer.output].filter((b): b is ArrayBuffer =>
    b !== undefined && b.byteLength > 0
  );
  post(answer, [...new Set(transfer)]);
}
