// How a run ended, told to the outside: its summary line, its result recorded for `health`,
// and healthchecks-style pings.

import { resolve } from "node:path";
import type { ArchiveResult } from "../archive/write_archive.ts";
import type { Settings } from "../settings/settings.ts";
import type { PackWarning } from "../archive/tar_pack.ts";
import { sendPing } from "./ping.ts";
import { type RunResult, writeLastRun } from "../store/run_status.ts";
import { stateDirOf } from "../store/state_file.ts";
import { describeError } from "../base/errors.ts";
import type { RunDeps } from "./deps.ts";

/** How a run ended. */
export interface RunReport {
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

export async function ping(
  settings: Settings,
  deps: RunDeps,
  event: "start" | "success" | "fail",
  body: string,
) {
  if (settings.pingUrl === undefined) return;
  try {
    // An interrupted run must still exit within 2 seconds: its last ping waits 1 s at most.
    const timeoutMs = deps.signal?.aborted ? 1_000 : 10_000;
    await sendPing(settings.pingUrl, event, body, {
      timeoutMs,
      ...(deps.fetch ? { fetch: deps.fetch } : {}),
    });
  } catch (err) {
    // A ping that cannot be delivered is worth a warning, never a failed backup.
    deps.log.warn("ping failed", { event, error: describeError(err) });
  }
}

export function summaryLine(outcome: RunOutcome): string {
  return `archive=${outcome.archive} files=${outcome.files} bytes_in=${outcome.bytesIn} bytes_out=${outcome.bytesOut} seconds=${
    outcome.seconds.toFixed(3)
  } sha256=${outcome.sha256} warnings=${outcome.warnings.length}`;
}

/**
 * Writes the run's result for `health`. A result that cannot be written makes a good run
 * fail: nothing would show that it ran.
 */
export async function recordResult(
  settings: Settings,
  started: number,
  deps: RunDeps,
  report: RunReport,
): Promise<RunReport> {
  try {
    await writeLastRun(stateDirOf(resolve(settings.dest)), {
      started: new Date(started).toISOString(),
      finished: new Date(deps.now()).toISOString(),
      result: report.result,
      ...(report.outcome ? { archive: report.outcome.archive } : {}),
      ...(report.error !== undefined ? { error: describeError(report.error) } : {}),
    });
    return report;
  } catch (err) {
    // A run that failed already says why in its own line (often the same unwritable DEST);
    // health sees an unwritable state folder by itself.
    if (report.result === "failed") return report;
    deps.log.error("cannot record the run's result", { error: describeError(err) });
    return { result: "failed", error: err };
  }
}
