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
  const pending = new Map<
    number,
    { resolve: (answer: unknown) => void; reject: (e: Error) => void }
  >();
  const busy: number[] = [];
  const workers = Array.from({ length: Math.max(1, size) }, (_, index) => {
    busy.push(0);
    const worker = new Worker(script.href, { type: "module" });
    worker.onmessage = (event: MessageEvent<{ id: number } | SinkAnswer>) => {
      const answer = event.data;
      if ("sink" in answer) return pool.onSinkAnswer?.(answer);
      const job = pending.get(answer.id);
      pending.delete(answer.id);
      busy[index] = (busy[index] ?? 1) - 1;
      job?.resolve(answer);
    };
    worker.onerror = (event) => {
      event.preventDefault();
      for (const job of pending.values()) {
        job.reject(new Error(`codec worker failed: ${event.message}`));
      }
      pending.clear();
      pool.onSinkAnswer?.({
        sink: true,
        op: "failed",
        message: `codec worker failed: ${event.message}`,
      });
    };
    return worker;
  });
  let next = 0;
  const close = () => {
    for (const worker of workers) worker.terminate();
    for (const job of pending.values()) job.reject(new Error("codec pool closed"));
    pending.clear();
  };
  const request = (message: { op: string }, transfer: ArrayBuffer[]) => {
    const id = next++;
    // The least busy worker takes the job, so one slow block does not stall the queue.
    let index = 0;
    for (let i = 1; i < busy.length; i++) if ((busy[i] ?? 0) < (busy[index] ?? 0)) index = i;
    busy[index] = (busy[index] ?? 0) + 1;
    return new Promise<unknown>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      workers[index]?.postMessage({ ...message, id }, transfer);
    });
  };
  const pool: CodecPool = {
    [Symbol.dispose]: close,
    close,
    size: workers.length,
    onSinkAnswer: undefined,
    toSink(command, transfer = []) {
      workers[0]?.postMessage(command, transfer);
    },
    request,
    async run(op, input, length, output) {
      const job: Omit<Job, "id"> = output ? { op, input, length, output } : { op, input, length };
      const answer = await request(job, output ? [input, output] : [input]) as Answer;
      if ("error" in answer) throw new Error(answer.error);
      return {
        result: new Uint8Array(answer.output, answer.offset, answer.length),
        input: answer.input,
      };
    },
  };
  return pool;
}

/**
 * Maps `source` through `work` with at most `depth` jobs in flight, yielding results in order.
 *
 * @example
 * ```ts ignore
 * for await (const plain of ordered(units, (u) => inflateUnit(u), 4)) write(plain);
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
