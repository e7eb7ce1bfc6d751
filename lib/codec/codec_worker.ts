// The codec worker: compresses or inflates units (codec_jobs.ts); the first worker of a pool
// also writes the archive file (archive_writer.ts).

/// <reference lib="deno.worker" />

import { answerJob, type Job } from "./codec_jobs.ts";
import { type SinkCommand, sinkCommand } from "./archive_writer.ts";

self.onmessage = (event: MessageEvent<Job | SinkCommand>) => {
  const post = (answer: unknown, transfer: ArrayBuffer[]) => self.postMessage(answer, transfer);
  if ("sink" in event.data) sinkCommand(event.data, post);
  else answerJob(event.data, post);
};
