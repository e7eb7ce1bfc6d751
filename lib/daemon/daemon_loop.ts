// The daemon's loop: exactly one run per slot, whatever the wall clock does. It sleeps at
// most a minute at a time and re-reads the clock, so jumps and suspends are noticed.

import { isoTime, type Logger } from "../base/log.ts";
import { type Slots, slotsBetween } from "./schedule.ts";

/** Time as the loop sees it (tests pass a simulated one). */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Resolves after `ms`, or as soon as `signal` aborts. Never rejects. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

/** Why a run started. */
export type RunReason = "slot" | "catch-up" | "start" | "signal";

/**
 * A run asked for from outside (SIGUSR1) that wakes the loop from its sleep.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * const wakeup = new Wakeup();
 * wakeup.fire(); // as a SIGUSR1 listener does
 * assertEquals([wakeup.take(), wakeup.take()], [true, false]);
 * ```
 */
export class Wakeup {
  #pending = false;
  #wake: (() => void) | undefined;

  /** Asks for a run as soon as the loop is idle. */
  fire(): void {
    this.#pending = true;
    this.#wake?.();
  }

  /** Whether a run was asked for; clears the request. */
  take(): boolean {
    const pending = this.#pending;
    this.#pending = false;
    return pending;
  }

  /** Sleeps on `clock` until `ms` passed, a run is asked for, or `stop` aborts. */
  async sleep(clock: Clock, ms: number, stop: AbortSignal): Promise<void> {
    if (this.#pending || stop.aborted) return;
    const early = new AbortController();
    const onStop = () => early.abort();
    stop.addEventListener("abort", onStop, { once: true });
    this.#wake = () => early.abort();
    try {
      await clock.sleep(ms, early.signal);
    } finally {
      stop.removeEventListener("abort", onStop);
      this.#wake = undefined;
    }
  }
}

/** What the loop needs. */
export interface LoopDeps {
  /** The clock and its sleeps. */
  clock: Clock;
  /** The schedule's slots. */
  slots: Slots;
  /** Where events go. */
  log: Logger;
  /** Makes one backup; reports its own failures and resolves either way. */
  backup(reason: RunReason, slot: number | undefined): Promise<void>;
  /** Ends the loop (SIGTERM, SIGINT). */
  stop: AbortSignal;
  /** Runs asked for from outside. */
  wakeup: Wakeup;
  /** Told of the next slot whenever it changes, for the status file. */
  onNextSlot?: (slot: number | undefined) => void | Promise<void>;
  /** `--run-on-start`. */
  runOnStart: boolean;
  /** `--catch-up`. */
  catchUp: boolean;
  /** When the newest archive was made; catch-up needs one. */
  newestArchive: number | undefined;
  /** What a run makes, for messages. @default {"archive"} */
  made?: string;
}

/** The longest sleep: the clock is re-read at least this often. */
export const MAX_SLEEP_MS = 60_000;

/**
 * Runs until `deps.stop` aborts.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { cronSlots } from "./schedule.ts";
 * import { createLogger } from "../base/log.ts";
 * // A simulated clock from 23:30 to past 00:30: the midnight slot runs once, on time.
 * let t = Date.UTC(2027, 0, 1, 23, 30);
 * const stop = new AbortController();
 * const clock = {
 *   now: () => t,
 *   sleep: (ms: number) => {
 *     t += ms;
 *     if (t > Date.UTC(2027, 0, 2, 0, 30)) stop.abort();
 *     return Promise.resolve();
 *   },
 * };
 * const runs: string[] = [];
 * await daemonLoop({
 *   clock,
 *   slots: cronSlots("0 0 * * *", "UTC"),
 *   log: createLogger({ write: () => {} }),
 *   backup: (reason, slot) => Promise.resolve(void runs.push(`${reason} ${new Date(t).toISOString()} ${slot}`)),
 *   stop: stop.signal,
 *   wakeup: new Wakeup(),
 *   runOnStart: false,
 *   catchUp: true,
 *   newestArchive: undefined,
 * });
 * assertEquals(runs, [`slot 2027-01-02T00:00:00.000Z ${Date.UTC(2027, 0, 2)}`]);
 * ```
 */
export async function daemonLoop(deps: LoopDeps): Promise<void> {
  const { clock, slots, log, stop } = deps;
  let handled = clock.now();
  let reported: number | undefined | null = null;

  const runThenSkip = async (reason: RunReason, slot: number | undefined) => {
    await deps.backup(reason, slot);
    if (stop.aborted) return;
    const now = clock.now();
    for (const skipped of slotsBetween(slots, handled, now)) {
      log.warn("slot skipped: a run was going", { slot: isoTime(skipped) });
    }
    handled = Math.max(handled, slots.latest(now) ?? handled);
  };

  if (deps.runOnStart) {
    log.info("running at start (--run-on-start)");
    await runThenSkip("start", undefined);
  } else if (deps.catchUp && deps.newestArchive !== undefined) {
    const passed = slots.latest(handled);
    if (passed !== undefined && passed > deps.newestArchive) {
      log.info(`catching up: a slot passed since the newest ${deps.made ?? "archive"}`, {
        slot: isoTime(passed),
      });
      await runThenSkip("catch-up", passed);
    }
  }

  while (!stop.aborted) {
    if (deps.wakeup.take()) {
      log.info("run requested (SIGUSR1)");
      await runThenSkip("signal", undefined);
      continue;
    }
    const now = clock.now();
    const next = slots.next(handled);
    if (next !== undefined && next <= now) {
      const due = slots.latest(now) ?? next;
      const missed = slotsBetween(slots, handled, due).length - 1;
      if (missed > 0) {
        log.warn("missed slots while the host slept or the clock jumped; running once", {
          missed,
          slot: isoTime(due),
        });
      }
      handled = due;
      await runThenSkip("slot", due);
      continue;
    }
    if (next !== reported) {
      reported = next;
      await deps.onNextSlot?.(next);
    }
    const wait = next === undefined ? MAX_SLEEP_MS : Math.min(next - now, MAX_SLEEP_MS);
    await deps.wakeup.sleep(clock, wait, stop);
  }
}
