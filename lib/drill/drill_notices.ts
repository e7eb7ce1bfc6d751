// What follows a restore drill (README: Restore drills): its result recorded in DEST's
// drills.json, sent where --notify says (as a backup's is: failures, or always), and its
// metrics (backupd_drill_*) updated.

import { RunError } from "../base/errors.ts";
import type { Logger } from "../base/log.ts";
import { notifyRun } from "../notices/notify.ts";
import { recordDrillMetrics } from "../notices/metrics.ts";
import type { Settings } from "../settings/settings.ts";
import { readDrillRecord, recordDrill } from "../store/drill_record.ts";
import type { DrillReport } from "./drill.ts";

/** The exit code of a drill's result. */
export const DRILL_CODES = { passed: 0, failed: 1, error: 2 } as const;

/**
 * Records, notifies and measures one drill; none of it fails the drill (a warning says).
 *
 * @example
 * ```ts ignore
 * await afterDrill(settings, "/backup", report, { log, now: Date.now });
 * ```
 */
export async function afterDrill(
  settings: Settings,
  dest: string,
  report: DrillReport,
  deps: { log: Logger; now: () => number; fetch?: typeof fetch },
): Promise<void> {
  const started = Date.parse(report.started);
  const seconds = (Date.parse(report.ended) - started) / 1000;
  await recordDrill(dest, {
    result: report.result,
    // A point-in-time drill proves its base: list's DRILLED column marks that archive.
    archive: report.base ?? report.archive,
    started: report.started,
    ended: report.ended,
    seconds,
    ...(report.rtoSeconds !== undefined ? { rtoSeconds: report.rtoSeconds } : {}),
    ...(report.problem ? { problem: report.problem } : {}),
  }).catch((err) => deps.log.warn("cannot record the drill", { error: String(err) }));
  const passed = Object.values((await readDrillRecord(dest).catch(() => ({ passed: {} }))).passed)
    .map((t) => Date.parse(t));
  await recordDrillMetrics(settings, {
    code: DRILL_CODES[report.result],
    seconds,
    ...(report.rtoSeconds !== undefined ? { rtoSeconds: report.rtoSeconds } : {}),
    ...(passed.length > 0 ? { lastPassedMs: Math.max(...passed) } : {}),
  }, deps.log);
  const failed = report.result !== "passed";
  await notifyRun(
    settings,
    deps,
    failed
      ? { result: "failed", error: new RunError(report.problem ?? "the drill did not pass") }
      : { result: "ok" },
    started,
    { what: "restore drill", archive: report.archive },
  );
}
