// Restore drills in the daemon (README: Restore drills): on `--drill-schedule`, the newest
// archive is drilled, one run at a time with the backups (they take turns in the process,
// and a drill holds DEST's lock, so `now` by hand is refused meanwhile); a drill missed
// while the host slept or the daemon was down runs once, as a backup does.

import { describeError, LockHeldError } from "../base/errors.ts";
import { runDrill } from "../drill/drill.ts";
import { afterDrill } from "../drill/drill_notices.ts";
import type { Settings } from "../settings/settings.ts";
import { listArchives } from "../store/local_store.ts";
import { acquireLock, type Lock } from "../store/lock.ts";
import { readDrillRecord } from "../store/drill_record.ts";
import { stateDirOf } from "../store/state_file.ts";
import { type Clock, daemonLoop, Wakeup } from "./daemon_loop.ts";
import type { Logger } from "../base/log.ts";
import { cronSlots } from "./schedule.ts";

/**
 * Runs what it is given one at a time, in the order asked: the daemon's backups and drills.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * const turns = new Turns();
 * const seen: string[] = [];
 * const job = (name: string) => async () => { seen.push(`${name} in`); await null; seen.push(`${name} out`); };
 * await Promise.all([turns.run(job("a")), turns.run(job("b"))]);
 * assertEquals(seen, ["a in", "a out", "b in", "b out"]);
 * ```
 */
export class Turns {
  #tail: Promise<void> = Promise.resolve();

  /** Runs `job` once every job asked for before it has ended. */
  run<T>(job: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(job);
    this.#tail = result.then(() => undefined, () => undefined);
    return result;
  }
}

/** What the drill loop needs from the daemon. */
export interface DrillLoopDeps {
  /** The clock and its sleeps. */
  clock: Clock;
  /** Where events go. */
  log: Logger;
  /** The daemon's pid, for the lock. */
  pid: number;
  /** The daemon's stop: a drill going is abandoned (its server stopped, its folder removed). */
  stop: AbortSignal;
  /** The turns the backups take too. */
  turns: Turns;
  /** The fetch for notifications. */
  fetch?: typeof fetch;
}

/** How long a drill waits between tries for a lock another process holds. */
const LOCK_RETRY_MS = 10_000;

/**
 * The drills of `--drill-schedule` until the daemon stops; nothing without one.
 *
 * @example
 * ```ts ignore
 * await drillOnSchedule(settings, "/backup", { clock, log, pid, stop: stop.signal, turns });
 * ```
 */
export async function drillOnSchedule(
  settings: Settings,
  dest: string,
  deps: DrillLoopDeps,
): Promise<void> {
  if (!settings.drillSchedule) return;
  const last = (await readDrillRecord(dest).catch(() => undefined))?.last?.ended;
  deps.log.info("restore drills scheduled", { schedule: settings.drillSchedule, tz: settings.tz });
  await daemonLoop({
    clock: deps.clock,
    slots: cronSlots(settings.drillSchedule, settings.tz),
    log: deps.log,
    backup: () =>
      deps.turns.run(() =>
        drillNewest(settings, dest, deps).catch((err) =>
          deps.log.error("drill failed", { error: describeError(err) })
        )
      ),
    stop: deps.stop,
    wakeup: new Wakeup(),
    runOnStart: false,
    catchUp: settings.catchUp,
    newestArchive: last === undefined ? undefined : Date.parse(last),
    made: "restore drill",
  });
}

/** The newest archive drilled under DEST's lock; its result recorded, notified, measured. */
async function drillNewest(settings: Settings, dest: string, deps: DrillLoopDeps): Promise<void> {
  const lock = await lockWhenFree(dest, deps);
  if (!lock) return;
  try {
    const newest = (await listArchives(dest)).at(-1);
    if (!newest) {
      deps.log.warn("no archive to drill yet", { dest });
      return;
    }
    const report = await runDrill(
      settings,
      { file: `${dest}/${newest.path}`, shown: newest.path },
      {
        log: deps.log,
        now: deps.clock.now,
        signal: deps.stop,
        isRoot: Deno.uid() === 0,
      },
    );
    if (report.result === "passed") {
      deps.log.info("drill passed", { archive: newest.path, rto_seconds: report.rtoSeconds });
    } else if (!deps.stop.aborted) {
      deps.log.error("drill failed", { archive: newest.path, error: report.problem });
    }
    await afterDrill(settings, dest, report, {
      log: deps.log,
      now: deps.clock.now,
      ...(deps.fetch ? { fetch: deps.fetch } : {}),
    });
  } finally {
    lock.release();
  }
}

/** DEST's lock, waited for while another process (a `now` by hand) holds it. */
async function lockWhenFree(dest: string, deps: DrillLoopDeps): Promise<Lock | undefined> {
  let said = false;
  while (!deps.stop.aborted) {
    try {
      return await acquireLock(stateDirOf(dest), `pid ${deps.pid} (backupd run, restore drill)`);
    } catch (err) {
      if (!(err instanceof LockHeldError)) throw err;
      if (!said) deps.log.info("the drill waits for the lock", { holder: err.message });
      said = true;
      await deps.clock.sleep(LOCK_RETRY_MS, deps.stop);
    }
  }
  return undefined;
}
