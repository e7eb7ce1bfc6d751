// A pool of codec workers (gzip, zstd), and ordered pipelines over it: jobs run in parallel,
// results come back in the order the jobs went in, with a bounded number in flight.

import type { Answer, Job } from "./codec_jobs.ts";
import type { SinkAnswer, SinkCommand } from "./archive_writer.ts";

/** A finished job: the result, and the input buffer back for reuse. */
export interface Done {
  /** The result: a view of the output buffer lent, or of a fresh one when none was. */
  result: Uint8Array<ArrayBuffer>;
  /** The input buffer, back from the worker. */
  input: ArrayBuffer;
}

/** A pool of workers doing codec jobs; `using` it closes it. */
export interface CodecPool extends Disposable {
  /**
   * Runs one job on the first `length` bytes of `input`; `input` and `output` (lent for
   * compression) are transferred to the worker and come back in the result.
   */
  run(op: Job["op"], input: ArrayBuffer, length: number, output?: ArrayBuffer): Promise<Done>;
  /** Sends any other job to the least busy worker (with a fresh `id`); its raw answer. */
  request(message: { op: string }, transfer: ArrayBuffer[]): Promise<unknown>;
  /** How many workers there are. */
  size: number;
  /** Sends a command to the first worker, which writes archive files (archive_writer.ts). */
  toSink(command: SinkCommand, transfer?: ArrayBuffer[]): void;
  /** Told of the first worker's answers to those commands. */
  onSinkAnswer: ((answer: SinkAnswer) => void) | undefined;
  /** Ends the workers. */
  close(): void;
}

/**
 * Starts `size` workers (default: one per core) running `script` (default: the codec
 * worker; a backup's pool runs the pack worker, which also packs small files).
 *
 * @example
 * ```ts ignore
 * using pool = startCodecPool();
 * const { result } = await pool.run("gunzip", unit.buffer, unit.length);
 * ```
 */
export function startCodecPool(
  size: number = navigator.hardwareConcurrency || 1,
  script: URL = new URL("./codec_worker.ts", import.meta.url),
): CodecPool {
  return new WorkerPool(Math.max(1, size), script);
}

/** The {@linkcode CodecPool} of {@linkcode startCodecPool}. */
class WorkerPool implements CodecPool {
  readonly size: number;
  onSinkAnswer: ((answer: SinkAnswer) => void) | undefined;
  readonly #workers: Worker[];
  /** Jobs sent and not yet answered, by id. */
  readonly #pending = new Map<
    number,
    { resolve: (answer: unknown) => void; reject: (e: Error) => void }
  >();
  /** Jobs in flight on each worker. */
  readonly #busy: number[];
  #next = 0;

  constructor(size: number, script: URL) {
    this.size = size;
    this.#busy = Array.from({ length: size }, () => 0);
    this.#workers = Array.from({ length: size }, (_, index) => this.#start(script, index));
  }

  [Symbol.dispose](): void {
    this.close();
  }

  close(): void {
    for (const worker of this.#workers) worker.terminate();
    for (const job of this.#pending.values()) job.reject(new Error("codec pool closed"));
    this.#pending.clear();
  }

  toSink(command: SinkCommand, transfer: ArrayBuffer[] = []): void {
    this.#workers[0]?.postMessage(command, transfer);
  }

  request(message: { op: string }, transfer: ArrayBuffer[]): Promise<unknown> {
    const id = this.#next++;
    // The least busy worker takes the job, so one slow block does not stall the queue.
    let index = 0;
    for (let i = 1; i < this.#busy.length; i++) {
      if ((this.#busy[i] ?? 0) < (this.#busy[index] ?? 0)) index = i;
    }
    this.#busy[index] = (this.#busy[index] ?? 0) + 1;
    return new Promise<unknown>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#workers[index]?.postMessage({ ...message, id }, transfer);
    });
  }

  async run(
    op: Job["op"],
    input: ArrayBuffer,
    length: number,
    output?: ArrayBuffer,
  ): Promise<Done> {
    const job: Omit<Job, "id"> = output ? { op, input, length, output } : { op, input, length };
    const answer = await this.request(job, output ? [input, output] : [input]) as Answer;
    if ("error" in answer) throw new Error(answer.error);
    return {
      result: new Uint8Array(answer.output, answer.offset, answer.length),
      input: answer.input,
    };
  }

  /** A worker whose answers settle its jobs (or go to the sink) and whose failure fails them. */
  #start(script: URL, index: number): Worker {
    const worker = new Worker(script.href, { type: "module" });
    worker.onmessage = (event: MessageEvent<{ id: number } | SinkAnswer>) => {
      const answer = event.data;
      if ("sink" in answer) return this.onSinkAnswer?.(answer);
      const job = this.#pending.get(answer.id);
      this.#pending.delete(answer.id);
      this.#busy[index] = (this.#busy[index] ?? 1) - 1;
      job?.resolve(answer);
    };
    worker.onerror = (event) => {
      event.preventDefault();
      const message = `codec worker failed: ${event.message}`;
      for (const job of this.#pending.values()) job.reject(new Error(message));
      this.#pending.clear();
      this.onSinkAnswer?.({ sink: true, op: "failed", message });
    };
    return worker;
  }
}

/**
 * Maps `source` through `work` with at most `depth` jobs in flight, yielding results in order.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * const slowFirst = (n: number) => new Promise<number>((r) => setTimeout(() => r(n * 10), n === 1 ? 20 : 0));
 * assertEquals(await Array.fromAsync(ordered([1, 2, 3], slowFirst, 2)), [10, 20, 30]);
 * ```
 */
export async function* ordered<T, R>(
  source: AsyncIterable<T> | Iterable<T>,
  work: (item: T) => Promise<R>,
  depth: number,
): AsyncGenerator<R> {
  const inFlight: Promise<R>[] = [];
  try {
    for await (const item of source) {
      const job = work(item);
      // A job that fails while earlier ones are awaited is reported when its turn comes.
      job.catch(() => undefined);
      inFlight.push(job);
      if (inFlight.length >= depth) yield await (inFlight.shift() as Promise<R>);
    }
    while (inFlight.length > 0) yield await (inFlight.shift() as Promise<R>);
  } finally {
    inFlight.length = 0;
  }
}
