// A pool of codec workers (gzip, zstd), and ordered pipelines over it: jobs run in parallel,
// results come back in the order the jobs went in, with a bounded number in flight.

import type { Answer, Job } from "./codec_worker.ts";

/** A pool of workers doing codec jobs; `using` it closes it. */
export interface CodecPool extends Disposable {
  /** Runs one job; the buffer of `data` is transferred to the worker. */
  run(op: Job["op"], data: Uint8Array): Promise<Uint8Array>;
  /** How many workers there are. */
  size: number;
  /** Ends the workers. */
  close(): void;
}

/**
 * Starts `size` workers (default: one per core).
 *
 * @example
 * ```ts ignore
 * using pool = startCodecPool();
 * await pool.run("gzip", block);
 * ```
 */
export function startCodecPool(size: number = navigator.hardwareConcurrency || 1): CodecPool {
  const pending = new Map<
    number,
    { resolve: (b: Uint8Array) => void; reject: (e: Error) => void }
  >();
  const busy: number[] = [];
  const workers = Array.from({ length: Math.max(1, size) }, (_, index) => {
    busy.push(0);
    const worker = new Worker(new URL("./codec_worker.ts", import.meta.url).href, {
      type: "module",
    });
    worker.onmessage = (event: MessageEvent<Answer>) => {
      const answer = event.data;
      const job = pending.get(answer.id);
      pending.delete(answer.id);
      busy[index] = (busy[index] ?? 1) - 1;
      if ("error" in answer) job?.reject(new Error(answer.error));
      else job?.resolve(new Uint8Array(answer.data, answer.offset, answer.length));
    };
    worker.onerror = (event) => {
      event.preventDefault();
      for (const job of pending.values()) {
        job.reject(new Error(`gzip worker failed: ${event.message}`));
      }
      pending.clear();
    };
    return worker;
  });
  let next = 0;
  const close = () => {
    for (const worker of workers) worker.terminate();
    for (const job of pending.values()) job.reject(new Error("gzip pool closed"));
    pending.clear();
  };
  return {
    [Symbol.dispose]: close,
    close,
    size: workers.length,
    run(op, data) {
      const id = next++;
      // Only a buffer that is the whole view can be transferred; copy anything else.
      const whole = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength
        ? data
        : data.slice();
      // The least busy worker takes the job, so one slow block does not stall the queue.
      const index = busy.indexOf(Math.min(...busy));
      busy[index] = (busy[index] ?? 0) + 1;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        const buffer = whole.buffer as ArrayBuffer;
        workers[index]?.postMessage({ id, op, data: buffer } satisfies Job, [buffer]);
      });
    },
  };
}

/**
 * Maps `source` through `work` with at most `depth` jobs in flight, yielding results in order.
 *
 * @example
 * ```ts ignore
 * for await (const member of ordered(blocks, (b) => pool.run("gzip", b), 4)) write(member);
 * ```
 */
export async function* ordered<T>(
  source: AsyncIterable<T> | Iterable<T>,
  work: (item: T) => Promise<Uint8Array>,
  depth: number,
): AsyncGenerator<Uint8Array> {
  const inFlight: Promise<Uint8Array>[] = [];
  try {
    for await (const item of source) {
      const job = work(item);
      // A job that fails while earlier ones are awaited is reported when its turn comes.
      job.catch(() => undefined);
      inFlight.push(job);
      if (inFlight.length >= depth) yield await (inFlight.shift() as Promise<Uint8Array>);
    }
    while (inFlight.length > 0) yield await (inFlight.shift() as Promise<Uint8Array>);
  } finally {
    inFlight.length = 0;
  }
}
