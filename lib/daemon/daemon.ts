// `backupd run`: the daemon's wiring around the pure loop — folders checked at start,
// signals (TERM/INT stop, USR1 runs now), the daemon's state for `health`, each run reported.

import { resolve } from "node:path";
import { readinessProblem } from "../run/readiness.ts";
import { notifyRun } from "../notices/notify.ts";
import { stateDirOf } from "../store/state_file.ts";
import { recordWal, serveMetrics } from "../notices/metrics.ts";
import { type Clock, daemonLoop, type RunReason, Wakeup } from "./daemon_loop.ts";
import { describeError, RunError } from "../base/errors.ts";
import { type OnSignal, stopOnSignals, type StopSignals } from "./stop_signals.ts";
import { acquireLock } from "../store/lock.ts";
import { isoTime, type Logger } from "../base/log.ts";
import { instantOf } from "../store/names.ts";
import { checkFolders, type FolderOrigins } from "../archive/folders.ts";
import { runBackup } from "../run/run.ts";
import { openBucket } from "../run/offsite_step.ts";
import { cronSlots } from "./schedule.ts";
import { drillOnSchedule, Turns } from "./drills.ts";
import type { Settings } from "../settings/settings.ts";
import { writeDaemonState } from "../store/run_status.ts";
import { listArchives, removeStalePartials } from "../store/local_store.ts";
import { localWalStore, type WalState } from "../store/wal_store.ts";
import { parseLsn } from "../store/wal_names.ts";
import { readWalCatalog } from "../postgres/wal_catalog.ts";

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
  const running = { now: false };
  const stop = stopOnSignals(deps.onSignal, deps.log, () => running.now);
  try {
    if (await waitUntilReady(settings, origins, deps, stop)) {
      await serve(settings, origins, deps, { stop, running });
    }
  } finally {
    stop.dispose();
  }
  const code = stop.exitCode();
  deps.log.info("daemon stopped", { code });
  return code;
}

/** The daemon proper, once ready: its state, metrics, signals and the loop over the slots. */
async function serve(
  settings: Settings,
  origins: FolderOrigins,
  deps: DaemonDeps,
  { stop, running }: { stop: StopSignals; running: { now: boolean } },
): Promise<void> {
  const { clock, log } = deps;
  const folders = await startOn(settings, origins, deps);
  const slots = cronSlots(settings.schedule, settings.tz);
  const newest = (await listArchives(folders.dest)).at(-1);
  const newestArchive = newest ? instantOf(newest, settings.tz) : undefined;
  const state = daemonState(folders.stateDir, deps.pid, clock.now(), settings, running);
  const wakeup = new Wakeup();
  const removeUsr1 = deps.onSignal("SIGUSR1", () => {
    if (running.now) log.warn("SIGUSR1 ignored: a run is going");
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
    wal: settings.wal ? `every ${settings.wal.intervalMs / 1000} s` : "off",
  });
  const { turns, beside } = startBeside(settings, folders, deps, stop.signal);
  try {
    await daemonLoop({
      clock,
      slots,
      log,
      backup: (reason, slot) =>
        turns.run(() =>
          backupOnce(settings, origins, deps, { state, stop, reason, slot }, running)
        ),
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
    removeUsr1();
    await beside;
  }
}

/**
 * What runs beside the backups until the daemon stops: WAL archiving, and the scheduled
 * drills, which take turns with the backups (a drill never runs beside a backup).
 */
function startBeside(
  settings: Settings,
  folders: { source: string; dest: string },
  deps: DaemonDeps,
  signal: AbortSignal,
): { turns: Turns; beside: Promise<unknown> } {
  const turns = new Turns();
  const drilling = drillOnSchedule(settings, folders.dest, {
    clock: deps.clock,
    log: deps.log,
    pid: deps.pid,
    stop: signal,
    turns,
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
  });
  return {
    turns,
    beside: Promise.all([archiveInBackground(settings, folders, deps, signal), drilling]),
  };
}

/**
 * WAL archiving beside the schedule, when on (README: Point-in-time recovery); it ends with
 * the daemon, its cycle going finished cleanly. A gap or a lost slot is notified as a
 * failed run is.
 */
async function archiveInBackground(
  settings: Settings,
  folders: { source: string; dest: string },
  deps: DaemonDeps,
  signal: AbortSignal,
): Promise<void> {
  if (!settings.wal || !settings.postgres) return;
  const { archiveWal } = await import("../postgres/wal_archiver.ts");
  const remote = settings.s3 ? await openBucket(settings, settings.s3) : undefined;
  try {
    await archiveWal(
      {
        target: settings.postgres,
        source: folders.source,
        dest: folders.dest,
        slot: settings.wal.slot,
        compression: settings.compression,
        recipients: settings.ageRecipients,
        intervalMs: settings.wal.intervalMs,
        maxRetainedBytes: settings.wal.maxRetainedBytes,
        ...(remote ? { remote } : {}),
      },
      {
        log: deps.log,
        now: deps.clock.now,
        onProblem: (problem) =>
          notifyRun(
            settings,
            { now: deps.clock.now, log: deps.log, ...(deps.fetch ? { fetch: deps.fetch } : {}) },
            { result: "failed", error: new RunError(`WAL archiving: ${problem}`) },
            deps.clock.now(),
          ),
        onCycle: async (state, segments) =>
          recordWal(settings, state, segments, deps.log, await pitrBroken(folders.dest, state)),
      },
      signal,
      deps.clock.sleep,
    );
  } catch (err) {
    deps.log.error("WAL archiving stopped", { error: describeError(err) });
  }
}

/** How often the start-up checks are made again while one fails. */
const READY_RETRY_MS = 60_000;

/**
 * Makes the start-up checks until they pass (true) or a stop is asked for (false). A problem
 * is one ERROR line, recorded for `health` and notified once; the checks are made again
 * every minute.
 */
async function waitUntilReady(
  settings: Settings,
  origins: FolderOrigins,
  deps: DaemonDeps,
  stop: StopSignals,
): Promise<boolean> {
  let reported: string | undefined;
  // A check can wait on a server that does not answer (30 s to connect): a stop ends the
  // wait at once, the check is let go.
  const STOPPED = Symbol("stopped");
  const stopped = new Promise<typeof STOPPED>((resolve) =>
    stop.signal.aborted
      ? resolve(STOPPED)
      : stop.signal.addEventListener("abort", () => resolve(STOPPED), { once: true })
  );
  while (!stop.signal.aborted) {
    const problem = await Promise.race([readinessProblem(settings, origins, deps.log), stopped]);
    if (problem === STOPPED) return false;
    if (problem === undefined) {
      if (reported !== undefined) deps.log.info("start-up checks pass now");
      return true;
    }
    if (problem !== reported) {
      deps.log.error("start-up check failed; checking again every minute", { error: problem });
      await recordProblem(settings, deps, problem);
      if (reported === undefined) await notifyProblem(settings, deps, problem);
      reported = problem;
    }
    await deps.clock.sleep(READY_RETRY_MS, stop.signal);
  }
  return false;
}

/** The problem written where `health` reads it; a DEST that cannot take it tells by itself. */
async function recordProblem(settings: Settings, deps: DaemonDeps, problem: string) {
  const now = new Date(deps.clock.now()).toISOString();
  await writeDaemonState(stateDirOf(resolve(settings.dest)), {
    pid: deps.pid,
    started: now,
    nextSlot: null,
    running: false,
    problem,
    schedule: settings.schedule,
    tz: settings.tz,
    keep: settings.keep,
  }).catch(() => undefined);
}

/** The problem sent where `--notify` says, as a failure, once per start. */
async function notifyProblem(settings: Settings, deps: DaemonDeps, problem: string) {
  const now = deps.clock.now();
  const error = new RunError(`the daemon cannot start its backups: ${problem}`);
  await notifyRun(
    settings,
    {
      now: deps.clock.now,
      log: deps.log,
      ...(deps.fetch ? { fetch: deps.fetch } : {}),
    },
    { result: "failed", error },
    now,
  );
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
  nextSlot: number | undefined;
  write(): Promise<void>;
}

function daemonState(
  stateDir: string,
  pid: number,
  startedMs: number,
  settings: Settings,
  running: { now: boolean },
): DaemonStateFile {
  const started = new Date(startedMs).toISOString();
  // What `health`, `list` and `prune` run by hand take when they are not told otherwise.
  const effective = {
    schedule: settings.schedule,
    tz: settings.tz,
    keep: settings.keep,
    wal: settings.wal !== undefined,
  };
  const state: DaemonStateFile = {
    nextSlot: undefined,
    write: () =>
      writeDaemonState(stateDir, {
        pid,
        started,
        nextSlot: state.nextSlot === undefined ? null : new Date(state.nextSlot).toISOString(),
        running: running.now,
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
  running: { now: boolean },
): Promise<void> {
  const { state, stop, reason, slot } = run;
  running.now = true;
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
    running.now = false;
    await state.write();
  }
}

/**
 * Whether a gap or a lost slot still breaks point-in-time recovery: no base backup starts at
 * or after the point the WAL is whole from (as `health` judges). The bases are read only
 * while there is a break.
 */
async function pitrBroken(dest: string, state: WalState): Promise<boolean> {
  if (state.wholeFrom === undefined) return false;
  const whole = parseLsn(state.wholeFrom);
  const { bases } = await readWalCatalog(localWalStore(dest));
  return !bases.some((b) => b.start >= whole);
}
