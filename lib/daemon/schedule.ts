// Slot maths for the daemon: the cron slots of a schedule in a zone, as instants. croner
// handles the zone's gaps (a slot in one runs at the first valid minute after) and folds.

import { Cron } from "croner";

/** The slots of a schedule. */
export interface Slots {
  /** The first slot strictly after `afterMs`, if any. */
  next(afterMs: number): number | undefined;
  /** The last slot at or before `atMs`, if any. */
  latest(atMs: number): number | undefined;
}

/**
 * Slots of a cron expression in a zone (the expression was checked by the settings).
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * const slots = cronSlots("0 1 * * *", "Europe/Berlin");
 * assertEquals(new Date(slots.next(Date.UTC(2027, 0, 1)) ?? 0).toISOString(), "2027-01-02T00:00:00.000Z");
 * ```
 */
export function cronSlots(pattern: string, timeZone: string): Slots {
  const cron = new Cron(pattern, { timezone: timeZone, paused: true });
  return {
    next(afterMs) {
      return cron.nextRun(new Date(afterMs))?.getTime();
    },
    latest(atMs) {
      // previousRuns looks strictly before its reference; a slot exactly at atMs counts too.
      const [previous] = cron.previousRuns(1, new Date(atMs + 1));
      return previous?.getTime();
    },
  };
}

/**
 * The slots in `(fromMs, toMs]`, at most `limit` of them.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(slotsBetween(cronSlots("* * * * *", "UTC"), 0, 180_000), [60000, 120000, 180000]);
 * ```
 */
export function slotsBetween(slots: Slots, fromMs: number, toMs: number, limit = 100): number[] {
  const out: number[] = [];
  for (
    let s = slots.next(fromMs);
    s !== undefined && s <= toMs && out.length < limit;
    s = slots.next(s)
  ) {
    out.push(s);
  }
  return out;
}
