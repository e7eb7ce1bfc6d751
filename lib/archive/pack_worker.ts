// The worker of a backup's pool: packs batches of small entries (pack_batch.ts), compresses
// blocks (codec_jobs.ts), and the first one writes the archive file (archive_writer.ts).

/// <reference lib="deno.worker" />

import { answerJob, type Job } from "../codec/codec_jobs.ts";
import { type SinkCommand, sinkCommand } from "../codec/archive_writer.ts";
import { packBatch, type PackJob } from "./pack_batch.ts";

const post = (answer: unknown, transfer: ArrayBuffer[]) => self.postMessage(answer, transfer);

/** Batches are packed one after another: they share this worker's tar block. */
let packing: Promise<void> = Promise.resolve();

self.onmessage = (event: MessageEvent<Job | SinkCommand | PackJob>) => {
  const message = event.data;
  if ("sink" in message) return sinkCommand(message, post);
  if (message.op !== "pack") return answerJob(message, post);
  packing = packing.then(async () => {
    const answer = await packBatch(message);
    post(answer, "units" in answer ? answer.units.map((unit) => unit.buffer) : []);
  });
};
