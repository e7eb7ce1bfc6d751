// `backupd run`: the daemon's wiring around the pure loop — folders checked at start,
// signals (TERM/INT stop, USR1 runs now), the daemon's state for `health`, each run reported.

import { serveMetrics } from "../notices/metrics.ts";
import { type Clock, daemonLoop, type RunReason, Wakeup } from "./daemon_loop.ts";
import { describeError } from "../base/errors.ts";
import { type OnSignal, stopOnSignals, type StopSignals } from "./stop_signals.ts";
import { acquireLock } from "../store/lock.ts";
import { isoTime, type Logger } from "../base/log.ts";
import { instantOf } from "../store/names.ts";
import { checkFolders, type FolderOrigins } from "../archive/folders.ts";
import { runBackup } from "../run/run.ts";
import { cronSlots } from "./schedule.ts";
import type { Settings } from "../settings/settings.ts";
import { writeDaemonState } from "../store/run_status.ts";
import { listArchives, removeStalePartials } from "../store/local_store.ts";

export type { DaemonSignal } from "./stop_signals.ts";

/** What the daemon needs from the process. */
export interface DaemonDeps {
  /** The clock and its sleeps. */
  clock: Clock;
  /** Where events go. */
  log: Logger;
  /** This process's id, for the lock and the state file. */
  pid: number;
  /** Registers a signal handler; returns its remover. */
  onSignal: OnSignal;
  /** The fetch for pings. */
  fetch?: typeof fetch;
}

/**
 * A clock on real time: sleeps are timers that a stop cancels.
 *
 * @example
 * ```ts ignore
 * await systemClock.sleep(1000, new AbortController().signal);
 * ```
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
      function done() {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      }
    }),
};

/**
 * Runs the daemon until SIGTERM or SIGINT; returns the exit code.
 *
 * @example
 * ```ts ignore
 * const code = await runDaemon(settings, origins, { clock: systemClock, log, pid: Deno.pid, onSignal });
 * ```
 */
export async function runDaemon(
  settings: Settings,
  origins: FolderOrigins,
  deps: DaemonDeps,
): Promise<number> {
  const { clock, log } = deps;
  const folders = await startOn(settings, origins, deps);
  const slots = cronSlots(settings.schedule, settings.tz);
  const newest = (await listArchives(folders.dest)).at(-1);
  const newestArchive = newest ? instantOf(newest, settings.tz) : undefined;
  const state = daemonState(folders.stateDir, deps.pid, clock.now(), settings);
  const stop = stopOnSignals(deps.onSignal, log, () => state.running);
  const wakeup = new Wakeup();
  const removeUsr1 = deps.onSignal("SIGUSR1", () => {
    if (state.running) log.warn("SIGUSR1 ignored: a run is going");
    else wakeup.fire();
  });
  state.nextSlot = slots.next(clock.now());
  await state.write();
  await serveMetrics(settings, newestArchive, stop.signal, log);
  log.info("daemon started", {
    source: folders.source,
    dest: folders.dest,
    schedule: settings.schedule,
    tz: settings.tz,
    next: isoTime(slots.next(clock.now())),
  });
  try {
    await daemonLoop({
      clock,
      slots,
      log,
      backup: (reason, slot) => backupOnce(settings, origins, deps, { state, stop, reason, slot }),
      stop: stop.signal,
      wakeup,
      runOnStart: settings.runOnStart,
      catchUp: settings.catchUp,
      newestArchive,
      onNextSlot: (next) => {
        state.nextSlot = next;
        return state.write();
      },
    });
  } finally {
    stop.dispose();
    removeUsr1();
  }
  const code = stop.exitCode();
  log.info("daemon stopped", { code });
  return code;
}

/** SOURCE and DEST checked, and partials of crashed runs removed under the lock. */
async function startOn(settings: Settings, origins: FolderOrigins, deps: DaemonDeps) {
  const folders = await checkFolders(settings.source, settings.dest, origins);
  const startLock = await acquireLock(folders.stateDir, `pid ${deps.pid} (backupd run, starting)`);
  try {
    await removeStalePartials(folders.dest, deps.log);
  } finally {
    startLock.release();
  }
  return folders;
}

/** The daemon's state for `health`: whether a run is going and the next slot. */
interface DaemonStateFile {
  running: boolean;
  nextSlot: number | undefined;
  write(): Promise<void>;
}

function daemonState(
  stateDir: string,
  pid: number,
  startedMs: number,
  settings: Settings,
): DaemonStateFile {
  const started = new Date(startedMs).toISOString();
  // What `health`, `list` and `prune` run by hand take when they are not told otherwise.
  const effective = { schedule: settings.schedule, tz: settings.tz, keep: settings.keep };
  const state: DaemonStateFile = {
    running: false,
    nextSlot: undefined,
    write: () =>
      writeDaemonState(stateDir, {
        pid,
        started,
        nextSlot: state.nextSlot === undefined ? null : new Date(state.nextSlot).toISOString(),
        running: state.running,
        ...effective,
      }),
  };
  return state;
}

/** One run of the daemon, its failure logged with the reason and slot. */
async function backupOnce(
  settings: Settings,
  origins: FolderOrigins,
  deps: DaemonDeps,
  run: { state: DaemonStateFile; stop: StopSignals; reason: RunReason; slot: number | undefined },
): Promise<void> {
  const { state, stop, reason, slot } = run;
  state.running = true;
  await state.write();
  try {
    const report = await runBackup(settings, origins, {
      now: deps.clock.now,
      log: deps.log,
      holder: `pid ${deps.pid} (backupd run)`,
      signal: stop.signal,
      ...(deps.fetch ? { fetch: deps.fetch } : {}),
    });
    if (report.result === "failed") {
      deps.log.error("backup failed", {
        reason,
        ...(slot !== undefined ? { slot: new Date(slot).toISOString() } : {}),
        error: describeError(report.error),
      });
    }
  } finally {
    // Written after a stop too: a stopped daemon must not look as if a run were going.
    state.running = false;
    await state.write();
  }
}
