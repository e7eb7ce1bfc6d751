// How a run ended, as the notices read it: the report, the outcome of a run that made an
// archive, its summary line, and what telling the outside needs from the run.

import type { ArchiveResult } from "../archive/write_archive.ts";
import type { PackWarning } from "../archive/tar_pack.ts";
import type { Logger } from "../base/log.ts";
import type { RunResult } from "../store/run_status.ts";

/** How a run ended. */
export interface RunReport {
  /** ok, warning or failed. */
  result: RunResult;
  /** The archive made, unless the run failed. */
  outcome?: RunOutcome;
  /** Why the run failed. */
  error?: unknown;
}

/** A finished run. */
export interface RunOutcome extends ArchiveResult {
  /** The archive, relative to DEST. */
  archive: string;
  /** The archive's absolute path. */
  path: string;
  /** Wall time of the run. */
  seconds: number;
  /** Paths that could not be stored as they were. */
  warnings: PackWarning[];
}

/** What telling the outside about a run needs from the run's surroundings. */
export interface NoticeDeps {
  /** The clock, in epoch milliseconds. */
  now: () => number;
  /** Where events go. */
  log: Logger;
  /** Set once the run was interrupted: the last notices then wait 1 s at most. */
  signal?: AbortSignal;
  /** The fetch for pings and webhooks. @default {globalThis.fetch} */
  fetch?: typeof fetch;
}

/** How long a notice waits for an answer: 1 s once the run was interrupted, else 10 s. */
export function noticeTimeoutMs(deps: Pick<NoticeDeps, "signal">): number {
  // An interrupted run must still exit within about 2 seconds.
  return deps.signal?.aborted ? 1_000 : 10_000;
}

/**
 * The run's summary as one line of `key=value` words (the body of the success ping).
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * const outcome = {
 *   archive: "2026-12-03/01-00-00.tar.gz", path: "/backup/2026-12-03/01-00-00.tar.gz",
 *   files: 2, bytesIn: 10, bytesOut: 40, sha256: "ab", seconds: 1.5, warnings: [],
 * };
 * assertEquals(
 *   summaryLine(outcome),
 *   "archive=2026-12-03/01-00-00.tar.gz files=2 bytes_in=10 bytes_out=40 seconds=1.500 sha256=ab warnings=0",
 * );
 * ```
 */
export function summaryLine(outcome: RunOutcome): string {
  return [
    `archive=${outcome.archive}`,
    `files=${outcome.files}`,
    `bytes_in=${outcome.bytesIn}`,
    `bytes_out=${outcome.bytesOut}`,
    `seconds=${outcome.seconds.toFixed(3)}`,
    `sha256=${outcome.sha256}`,
    `warnings=${outcome.warnings.length}`,
  ].join(" ");
}

/** Logs the run's `backup done` line, with its sizes, speed and hash. */
export function logSummary(outcome: RunOutcome, log: Logger): void {
  log.info("backup done", {
    archive: outcome.archive,
    files: outcome.files,
    bytes_in: outcome.bytesIn,
    bytes_out: outcome.bytesOut,
    seconds: Number(outcome.seconds.toFixed(3)),
    mb_per_s: Number((outcome.bytesIn / 1e6 / Math.max(outcome.seconds, 1e-3)).toFixed(1)),
    sha256: outcome.sha256,
    warnings: outcome.warnings.length,
  });
}
