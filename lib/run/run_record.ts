// A run's result written under DEST's state folder for `health`: when it started and
// ended, how, and its archive or its error.

import { resolve } from "node:path";
import { ConfigError, describeError, UsageError } from "../base/errors.ts";
import type { Settings } from "../settings/settings.ts";
import { writeLastRun } from "../store/run_status.ts";
import { stateDirOf } from "../store/state_file.ts";
import type { RunReport } from "../notices/run_report.ts";
import type { RunDeps } from "./run_deps.ts";

/**
 * Writes the run's result for `health`. A result that cannot be written makes a good run
 * fail: nothing would show that it ran. A run by hand refused for its settings (exit 2, one
 * line) is not recorded: health keeps judging the backups by what ran before.
 */
export async function recordResult(
  settings: Settings,
  started: number,
  deps: RunDeps,
  report: RunReport,
): Promise<RunReport> {
  const refused = report.error instanceof ConfigError || report.error instanceof UsageError;
  if (deps.byHand && report.result === "failed" && refused) return report;
  try {
    await writeLastRun(stateDirOf(resolve(settings.dest)), {
      started: new Date(started).toISOString(),
      finished: new Date(deps.now()).toISOString(),
      // A stop asked for (SIGTERM, SIGINT, Ctrl-C) is not a failure of the backups.
      result: report.result === "failed" && deps.signal?.aborted ? "interrupted" : report.result,
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
