// `backupd run`: the daemon's wiring around the pure loop — folders checked at start,
// signals (TERM/INT stop, USR1 runs now), the daemon's state for `health`, each run reported.

import { serveMetrics } from "../notices/metrics.ts";
import { type Clock, daemonLoop, type RunReason, Wakeup } from "./daemon_loop.ts";
import { describeError, RunError, STOP_CODES } from "../base/errors.ts";
import { acquireLock } from "../store/lock.ts";
import type { Logger } from "../base/log.ts";
import { instantOf } from "../store/names.ts";
import { checkFolders, type FolderOrigins } from "../archive/folders.ts";
import { runBackup } from "../run/run.ts";
import { cronSlots } from "./schedule.ts";
import type { Settings } from "../settings/settings.ts";
import { writeDaemonState } from "../store/run_status.ts";
import { listArchives, removeStalePartials } from "../store/local_store.ts";

/** Signals the daemon answers. */
export type DaemonSignal = "SIGTERM" | "SIGINT" | "SIGUSR1";

/** What the daemon needs from the process. */
export interface DaemonDeps {
  clock: Clock;
  log: Logger;
  pid: number;
  /** Registers a signal handler; returns its remover. */
  onSignal: (signal: DaemonSignal, handler: () => void) => () => void;
  /** The fetch for pings. */
  fetch?: typeof fetch;
}

const iso = (ms: number | undefined) => ms === undefined ? "never" : new Date(ms).toISOString();

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
  const folders = await checkFolders(settings.source, settings.dest, origins);
  const startLock = await acquireLock(folders.stateDir, `pid ${deps.pid} (backupd run, starting)`);
  try {
    for (const stale of await removeStalePartials(folders.dest)) {
      log.info("removed a partial file left by an interrupted run", { path: stale });
    }
  } finally {
    startLock.release();
  }
  const started = new Date(clock.now()).toISOString();
  const slots = cronSlots(settings.schedule, settings.tz);
  const newest = (await listArchives(folders.dest)).at(-1);
  const stop = new AbortController();
  const wakeup = new Wakeup();
  let running = false;
  let code = 0;

  const stopOn = (signal: "SIGTERM" | "SIGINT") => () => {
    if (stop.signal.aborted) return;
    log.info(running ? "stopping: abandoning the run" : "stopping", { signal });
    code = running ? STOP_CODES[signal] : 0;
    stop.abort(new RunError(`Cannot finish the run: interrupted by ${signal}`));
  };
  const removers = [
    deps.onSignal("SIGTERM", stopOn("SIGTERM")),
    deps.onSignal("SIGINT", stopOn("SIGINT")),
    deps.onSignal("SIGUSR1", () => {
      if (running) log.warn("SIGUSR1 ignored: a run is going");
      else wakeup.fire();
    }),
  ];

  let nextSlot = slots.next(clock.now());
  const writeState = () =>
    writeDaemonState(folders.stateDir, {
      pid: deps.pid,
      started,
      nextSlot: nextSlot === undefined ? null : new Date(nextSlot).toISOString(),
      running,
    });

  const backup = async (reason: RunReason, slot: number | undefined) => {
    running = true;
    await writeState();
    try {
      const report = await runBackup(settings, origins, {
        now: clock.now,
        log,
        holder: `pid ${deps.pid} (backupd run)`,
        signal: stop.signal,
        ...(deps.fetch ? { fetch: deps.fetch } : {}),
      });
      if (report.result === "failed") {
        log.error("backup failed", {
          reason,
          ...(slot !== undefined ? { slot: new Date(slot).toISOString() } : {}),
          error: describeError(report.error),
        });
      }
    } finally {
      running = false;
      if (!stop.signal.aborted) await writeState();
    }
  };

  await writeState();
  await serveMetrics(
    settings,
    newest ? instantOf(newest, settings.tz) : undefined,
    stop.signal,
    log,
  );
  log.info("daemon started", {
    source: folders.source,
    dest: folders.dest,
    schedule: settings.schedule,
    tz: settings.tz,
    next: iso(slots.next(clock.now())),
  });
  try {
    await daemonLoop({
      clock,
      slots,
      log,
      backup,
      stop: stop.signal,
      wakeup,
      runOnStart: settings.runOnStart,
      catchUp: settings.catchUp,
      newestArchive: newest ? instantOf(newest, settings.tz) : undefined,
      onNextSlot: (next) => {
        nextSlot = next;
        return writeState();
      },
    });
  } finally {
    for (const remove of removers) remove();
  }
  log.info("daemon stopped", { code });
  return code;
}
