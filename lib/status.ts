// What `health` reads from DEST/.backupd: the last run's result (status.json, written by
// every run) and the daemon's start and next slot (daemon.json, written by the daemon).

/** The result of a run: done, done with warnings, failed. */
export type RunResult = "ok" | "warning" | "failed";

/** The last run, as status.json holds it. */
export interface LastRun {
  started: string;
  finished: string;
  result: RunResult;
  archive?: string;
  error?: string;
}

/** The daemon, as daemon.json holds it. */
export interface DaemonState {
  pid: number;
  started: string;
  nextSlot: string | null;
  /** Whether a run is going. */
  running: boolean;
}

async function readJson<T>(path: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new Error(`Cannot read "${path}": not valid JSON`, { cause: err });
  }
}

async function writeJson(path: string, value: unknown): Promise<void> {
  const temp = `${path}.tmp-${Deno.pid}`;
  await Deno.writeTextFile(temp, JSON.stringify(value, null, 2) + "\n", { mode: 0o600 });
  await Deno.rename(temp, path);
}

/**
 * Reads the last run; `undefined` before the first.
 *
 * @example
 * ```ts
 * const last = await readLastRun("/backup/.backupd");
 * ```
 */
export function readLastRun(stateDir: string): Promise<LastRun | undefined> {
  return readJson<LastRun>(`${stateDir}/status.json`);
}

/**
 * Records the last run (atomically: a reader never sees half a file).
 *
 * @example
 * ```ts
 * await writeLastRun("/backup/.backupd", { started, finished, result: "ok" });
 * ```
 */
export function writeLastRun(stateDir: string, run: LastRun): Promise<void> {
  return writeJson(`${stateDir}/status.json`, run);
}

/**
 * Reads the daemon's state; `undefined` when no daemon ever ran on this DEST.
 *
 * @example
 * ```ts
 * const daemon = await readDaemonState("/backup/.backupd");
 * ```
 */
export function readDaemonState(stateDir: string): Promise<DaemonState | undefined> {
  return readJson<DaemonState>(`${stateDir}/daemon.json`);
}

/**
 * Records the daemon's state.
 *
 * @example
 * ```ts
 * await writeDaemonState("/backup/.backupd", { pid: 1, started, nextSlot: null });
 * ```
 */
export function writeDaemonState(stateDir: string, state: DaemonState): Promise<void> {
  return writeJson(`${stateDir}/daemon.json`, state);
}
