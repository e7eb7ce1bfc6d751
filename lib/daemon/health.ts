// Whether backups are current, as a pure function of the clock, the schedule, the last
// run and the newest archive; `backupd health` prints its one line and exits 0 or 1.

import { isoInZone } from "../store/names.ts";
import type { Slots } from "./schedule.ts";
import type { LastRun } from "../store/run_status.ts";
import type { WalState } from "../store/wal_store.ts";
import { formatBytes } from "../base/bytes.ts";
import { parseLsn } from "../store/wal_names.ts";

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

/** How many intervals WAL archiving may fall behind before health turns unhealthy. */
const WAL_INTERVALS = 3;

/**
 * Whether WAL archiving keeps point-in-time recovery current (README: Point-in-time
 * recovery); `undefined` when it does. Unhealthy: a cycle failing, a gap or lost slot with
 * no base backup starting after it (`newestBaseStart`: the newest base's start LSN), no
 * cycle recorded for 3 intervals (at least a minute: an idle daemon records once a minute)
 * and a minute more (the daemon is gone), the flushed WAL not all stored for 3 intervals
 * while the server answers, or the slot holding more than --wal-max-retained.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * const now = Date.UTC(2026, 11, 3, 14);
 * const at = (s: number) => new Date(now - s * 1000).toISOString();
 * const state = {
 *   slot: "backupd", intervalMs: 10_000, maxRetainedBytes: 1 << 30, segmentBytes: 1 << 24,
 *   segments: 3, lagBytes: 0, retainedBytes: 0, gaps: [],
 *   lastCycle: at(5), lastAnswer: at(5), caughtUp: at(5),
 * };
 * assertEquals(walProblem(state, { now, newestBaseStart: undefined, tz: "UTC" }), undefined);
 * assertEquals(
 *   walProblem({ ...state, caughtUp: at(45) }, { now, newestBaseStart: undefined, tz: "UTC" }),
 *   "WAL archiving has not kept up since 2026-12-03T13:59:15+00:00 while the server answers",
 * );
 * ```
 */
export function walProblem(
  state: WalState,
  input: { now: number; newestBaseStart: bigint | undefined; tz: string },
): string | undefined {
  const at = (ms: number) => isoInZone(ms, input.tz);
  const limit = WAL_INTERVALS * state.intervalMs;
  const since = (iso: string | undefined) => iso === undefined ? -Infinity : Date.parse(iso);
  if (state.problem) return `WAL archiving fails: ${state.problem}`;
  const broken = since(state.brokenSince);
  const whole = state.wholeFrom === undefined ? undefined : parseLsn(state.wholeFrom);
  if (
    whole !== undefined && (input.newestBaseStart === undefined || input.newestBaseStart < whole)
  ) {
    const gap = state.gaps.at(-1);
    return `point-in-time recovery is broken since ${at(broken)}${
      gap ? ` (WAL ${gap.from} to ${gap.to} is missing)` : " (the replication slot was lost)"
    }; the next base backup makes it whole again`;
  }
  const cycle = since(state.lastCycle);
  // An idle daemon writes its state once a minute.
  if (input.now - cycle > Math.max(limit, 60_000) + 60_000) {
    return `no WAL archiving cycle since ${
      cycle === -Infinity ? "the daemon started" : at(cycle)
    }: is the daemon running?`;
  }
  const answered = since(state.lastAnswer);
  const caughtUp = since(state.caughtUp);
  if (input.now - answered <= limit && input.now - caughtUp > limit) {
    return `WAL archiving has not kept up since ${
      caughtUp === -Infinity ? "it started" : at(caughtUp)
    } while the server answers`;
  }
  if (state.retainedBytes > state.maxRetainedBytes) {
    return `the replication slot "${state.slot}" holds ${
      formatBytes(state.retainedBytes)
    } of WAL on the server, more than --wal-max-retained (${formatBytes(state.maxRetainedBytes)})`;
  }
  return undefined;
}

/**
 * Whether a restore drill passed recently enough (README: Restore drills); `undefined` when
 * one did. `passed` maps archives to when they last passed.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * const now = Date.UTC(2026, 11, 10);
 * assertEquals(drillProblem({}, 8 * 86_400_000, now, "UTC"), "no restore drill has passed yet (--drill-max-age)");
 * assertEquals(drillProblem({ a: "2026-12-03T03:00:00Z" }, 8 * 86_400_000, now, "UTC"), undefined);
 * assertEquals(
 *   drillProblem({ a: "2026-12-01T03:00:00Z" }, 8 * 86_400_000, now, "UTC"),
 *   "no restore drill has passed since 2026-12-01T03:00:00+00:00, more than --drill-max-age (8 d) ago",
 * );
 * ```
 */
export function drillProblem(
  passed: Readonly<Record<string, string>>,
  maxAgeMs: number,
  now: number,
  tz: string,
): string | undefined {
  const newest = Math.max(-Infinity, ...Object.values(passed).map((t) => Date.parse(t)));
  if (newest === -Infinity) return "no restore drill has passed yet (--drill-max-age)";
  if (now - newest <= maxAgeMs) return undefined;
  const age = maxAgeMs % 86_400_000 === 0
    ? `${maxAgeMs / 86_400_000} d`
    : `${(maxAgeMs / 3_600_000).toFixed(1).replace(/\.0$/, "")} h`;
  return `no restore drill has passed since ${
    isoInZone(newest, tz)
  }, more than --drill-max-age (${age}) ago`;
}
