// The worker behind the parallel gzip: compresses a block into one gzip member (with its
// length in a header field, so readers can find members without inflating), or inflates one.

/// <reference lib="deno.worker" />

import { gunzipSync, gzipSync } from "node:zlib";
import { noteGarbage } from "./gc.ts";

/** A job for the worker. */
export interface Job {
  id: number;
  op: "gzip" | "gunzip";
  data: ArrayBuffer;
}

/** A job's answer: the result is `length` bytes at `offset` of `data`. */
export type Answer = { id: number; data: ArrayBuffer; offset: number; length: number } | {
  id: number;
  error: string;
};

/** zlib's output buffer: large enough for a whole member's output in one piece. */
const CHUNK = 2 * 1024 * 1024;

/** Length of the extra field backupd adds: XLEN (2) + 'B' 'D' + SLEN (2) + member length (4). */
const EXTRA = 10;

/** Turns a plain 10-byte-header gzip member into one whose FEXTRA field holds its own length. */
function withLength(member: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(member.length + EXTRA);
  out.set(member.subarray(0, 10), 0);
  out[3] = (out[3] ?? 0) | 0x04; // FLG.FEXTRA
  const view = new DataView(out.buffer);
  view.setUint16(10, 8, true); // XLEN
  out[12] = 0x42; // 'B'
  out[13] = 0x44; // 'D'
  view.setUint16(14, 4, true); // SLEN
  view.setUint32(16, out.length, true);
  out.set(member.subarray(10), 20);
  return out;
}

function run(job: Job): Uint8Array {
  const input = new Uint8Array(job.data);
  if (job.op === "gunzip") return gunzipSync(input, { chunkSize: CHUNK });
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
