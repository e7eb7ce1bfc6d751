// The worker behind parallel compression: compresses a block into one gzip member or one
// zstd frame, each carrying its own length where readers skip it (a gzip extra field, a zstd
// skippable frame) so they can find the next without inflating; or inflates one.

/// <reference lib="deno.worker" />

import { constants, gunzipSync, gzipSync, zstdCompressSync, zstdDecompressSync } from "node:zlib";
import { noteGarbage } from "./gc_hint.ts";
import { withLength, ZSTD_PREFIX, zstdUnit } from "./framing.ts";

/** A job for the worker. */
export interface Job {
  id: number;
  op: "gzip" | "gunzip" | "zstd" | "unzstd";
  data: ArrayBuffer;
}

/** A job's answer: the result is `length` bytes at `offset` of `data`. */
export type Answer = { id: number; data: ArrayBuffer; offset: number; length: number } | {
  id: number;
  error: string;
};

/** zlib's output buffer: large enough for a whole member's output in one piece. */
const CHUNK = 2 * 1024 * 1024;

function run(job: Job): Uint8Array {
  const input = new Uint8Array(job.data);
  if (job.op === "gunzip") return gunzipSync(input, { chunkSize: CHUNK });
  if (job.op === "unzstd") {
    return zstdDecompressSync(input.subarray(ZSTD_PREFIX), { chunkSize: CHUNK });
  }
  if (job.op === "zstd") {
    return zstdUnit(zstdCompressSync(input, {
      chunkSize: CHUNK,
      params: { [constants.ZSTD_c_compressionLevel]: 3, [constants.ZSTD_c_checksumFlag]: 1 },
    }));
  }
  const member = gzipSync(input, { level: 6, chunkSize: 256 * 1024 });
  // zlib writes no optional header fields; were it ever to, the member stays plain gzip.
  return member[3] === 0 ? withLength(member) : member;
}

self.onmessage = (event: MessageEvent<Job>) => {
  const job = event.data;
  try {
    const result = run(job);
    // Small results may sit in a shared buffer pool: copy those, hand over the rest.
    const own = result.length < 65536 ? result.slice() : result;
    const data = own.buffer as ArrayBuffer;
    self.postMessage(
      { id: job.id, data, offset: own.byteOffset, length: own.length } satisfies Answer,
      [data],
    );
    noteGarbage(2 * job.data.byteLength);
  } catch (err) {
    self.postMessage(
      { id: job.id, error: err instanceof Error ? err.message : String(err) } satisfies Answer,
    );
  }
};
