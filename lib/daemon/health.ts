// Whether backups are current, as a pure function of the clock, the schedule, the last
// run and the newest archive; `backupd health` prints its one line and exits 0 or 1.

import { isoInZone } from "../store/names.ts";
import type { Slots } from "./schedule.ts";
import type { LastRun } from "../store/run_status.ts";

/** How late a slot's archive may be before health turns unhealthy. */
export const GRACE_MS = 3_600_000;

/** What health is judged on. */
export interface HealthInput {
  /** Epoch milliseconds. */
  now: number;
  /** The schedule's slots. */
  slots: Slots;
  /** The last run's record, if any. */
  lastRun: LastRun | undefined;
  /** The newest archive's time, read from its name. */
  newestArchive: number | undefined;
  /** When the daemon started, if one runs. */
  daemonStarted: number | undefined;
  /** The zone times are shown in, with their offset. */
  tz: string;
}

/** The verdict. */
export interface Health {
  /** Whether backups are current. */
  healthy: boolean;
  /** One line saying why. */
  reason: string;
}

/**
 * Judges health as README: Health says.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { cronSlots } from "./schedule.ts";
 * const now = Date.UTC(2027, 0, 2, 12);
 * const slots = cronSlots("0 1 * * *", "UTC");
 * assertEquals(assessHealth({ now, slots, lastRun: undefined, newestArchive: now - 3_600_000, daemonStarted: now, tz: "Europe/Berlin" }), {
 *   healthy: true,
 *   reason: "the newest archive is from 2027-01-02T12:00:00+01:00",
 * });
 * assertEquals(assessHealth({ now, slots, lastRun: undefined, newestArchive: undefined, daemonStarted: now, tz: "UTC" }).reason,
 *   "no archive yet; the first slot is 2027-01-03T01:00:00+00:00");
 * ```
 */
export function assessHealth(input: HealthInput): Health {
  const { now, slots, lastRun, newestArchive } = input;
  const at = (ms: number | undefined) => ms === undefined ? "never" : isoInZone(ms, input.tz);
  if (lastRun?.result === "failed") {
    return {
      healthy: false,
      reason: `the last run failed at ${lastRun.finished}: ${lastRun.error ?? "unknown error"}`,
    };
  }
  const overdue = slots.latest(now - GRACE_MS);
  if (newestArchive === undefined) {
    const since = input.daemonStarted ?? now;
    const first = slots.next(since);
    if (first !== undefined && first + GRACE_MS < now) {
      return {
        healthy: false,
        reason: `no archive yet, and the first slot (${at(first)}) passed over an hour ago`,
      };
    }
    return {
      healthy: true,
      reason: `no archive yet; the first slot is ${at(first)}`,
    };
  }
  if (overdue !== undefined && newestArchive < overdue) {
    return {
      healthy: false,
      reason: `no archive since the slot of ${at(overdue)} (newest: ${at(newestArchive)})`,
    };
  }
  return { healthy: true, reason: `the newest archive is from ${at(newestArchive)}` };
}
