// When the daemon runs: the zone, the cron schedule in it, and what it does at start.

import { SETTINGS } from "./catalog.ts";
import type { Resolver } from "./resolver.ts";
import { checkSchedule, checkTimeZone } from "./value_checks.ts";

/** The zone, the schedule and the daemon's start. */
export interface ScheduleSettings {
  /** IANA zone for the schedule and the archive names. */
  tz: string;
  /** Cron expression, 5 or 6 fields. */
  schedule: string;
  /** Run once at start when a slot passed since the newest archive. */
  catchUp: boolean;
  /** Run once at start. */
  runOnStart: boolean;
}

/**
 * The zone (the system's unless given), the cron schedule in it, and what the daemon does
 * at start.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { Resolver } from "./resolver.ts";
 * assertEquals(scheduleSettings(new Resolver({}, { TZ: "Asia/Tokyo" }), "UTC"), {
 *   tz: "Asia/Tokyo",
 *   schedule: "0 1 * * *",
 *   catchUp: true,
 *   runOnStart: false,
 * });
 * ```
 */
export function scheduleSettings(r: Resolver, systemZone: string): ScheduleSettings {
  const tzPicked = r.pick("tz");
  const tz = tzPicked ? checkTimeZone(tzPicked.value, tzPicked.from) : systemZone;
  const schedulePicked = r.pick("schedule");
  return {
    tz,
    schedule: checkSchedule(
      schedulePicked?.value ?? SETTINGS.schedule.default,
      schedulePicked?.from ?? "--schedule",
      tz,
    ),
    catchUp: r.bool("catchUp", true),
    runOnStart: r.bool("runOnStart", false),
  };
}
