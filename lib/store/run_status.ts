// What `health` reads from DEST/.backupd: the last run's result (status.json, written by
// every run) and the daemon's start and next slot (daemon.json, written by the daemon).

import type { KeepPolicy } from "./retention.ts";
import { readStateFile, writeStateFile } from "./state_file.ts";

/** The result of a run: done, done with warnings, failed. */
export type RunResult = "ok" | "warning" | "failed";

/**
 * A run's result as recorded: a run stopped by SIGTERM or SIGINT is `interrupted`, which
 * says nothing about whether backups are current (the newest archive does).
 */
export type RecordedResult = RunResult | "interrupted";

/** The last run, as status.json holds it. */
export interface LastRun {
  /** When the run started, ISO 8601. */
  started: string;
  /** When it ended, ISO 8601. */
  finished: string;
  /** How it ended. */
  result: RecordedResult;
  /** The archive it made, relative to DEST. */
  archive?: string;
  /** Why it failed. */
  error?: string;
}

/** The daemon, as daemon.json holds it. */
export interface DaemonState {
  /** The daemon's process id. */
  pid: number;
  /** When it started, ISO 8601. */
  started: string;
  /** The next slot, ISO 8601; null when the schedule has none. */
  nextSlot: string | null;
  /** Whether a run is going. */
  running: boolean;
  /** The schedule it runs on (absent in files of older versions). */
  schedule?: string;
  /** The zone of its schedule and archive names. */
  tz?: string;
  /** Its retention rules. */
  keep?: KeepPolicy;
  /** What keeps it from backing up, while a start-up check fails. */
  problem?: string;
  /** Whether it archives WAL (README: Point-in-time recovery). */
  wal?: boolean;
}

/**
 * Reads the last run; `undefined` before the first.
 *
 * @example
 * ```ts ignore
 * const last = await readLastRun("/backup/.backupd");
 * ```
 */
export function readLastRun(stateDir: string): Promise<LastRun | undefined> {
  return readStateFile<LastRun>(`${stateDir}/status.json`);
}

/**
 * Records the last run (atomically: a reader never sees half a file).
 *
 * @example
 * ```ts ignore
 * await writeLastRun("/backup/.backupd", { started, finished, result: "ok" });
 * ```
 */
export function writeLastRun(stateDir: string, run: LastRun): Promise<void> {
  return writeStateFile(`${stateDir}/status.json`, run);
}

/**
 * Reads the daemon's state; `undefined` when no daemon ever ran on this DEST.
 *
 * @example
 * ```ts ignore
 * const daemon = await readDaemonState("/backup/.backupd");
 * ```
 */
export function readDaemonState(stateDir: string): Promise<DaemonState | undefined> {
  return readStateFile<DaemonState>(`${stateDir}/daemon.json`);
}

/**
 * Records the daemon's state.
 *
 * @example
 * ```ts ignore
 * await writeDaemonState("/backup/.backupd", { pid: 1, started, nextSlot: null });
 * ```
 */
export function writeDaemonState(stateDir: string, state: DaemonState): Promise<void> {
  return writeStateFile(`${stateDir}/daemon.json`, state);
}
