// One backup run, its steps in order: check folders, lock, clear stale partials, archive,
// summary. Clean-ups are registered as the run goes and always run, even on failure.

import { type ArchiveResult, writeArchive } from "./archive.ts";
import { acquireLock } from "./lock.ts";
import type { Logger } from "./log.ts";
import { stampOf } from "./names.ts";
import { checkFolders, type FolderOrigins } from "./preflight.ts";
import type { ProgressBar } from "./progress.ts";
import type { Settings } from "./settings.ts";
import { freeArchiveName, removeStalePartials } from "./store.ts";
import type { PackWarning } from "./tar_pack.ts";

/** What a run needs from its surroundings. */
export interface RunDeps {
  /** The clock, in epoch milliseconds. */
  now: () => number;
  /** Where events go. */
  log: Logger;
  /** Who runs, written into the lock file. */
  holder: string;
  /** Abandons the run; its partial file is removed. */
  signal?: AbortSignal;
  /** Starts a progress bar for a total byte count; none when absent. */
  progress?: (totalBytes: number) => ProgressBar;
}

/** A finished run. */
export interface RunOutcome extends ArchiveResult {
  /** The archive, relative to DEST. */
  archive: string;
  /** Wall time of the run. */
  seconds: number;
  /** Paths that could not be stored as they were. */
  warnings: PackWarning[];
}

type Cleanup = () => void | Promise<void>;

/**
 * Makes one backup of `settings.source` into `settings.dest` and logs its summary line.
 *
 * @example
 * ```ts
 * const outcome = await runBackup(settings, { source: "--source", dest: "--dest" }, {
 *   now: Date.now,
 *   log: createLogger(),
 *   holder: `pid ${Deno.pid}`,
 * });
 * ```
 */
export async function runBackup(
  settings: Settings,
  origins: FolderOrigins,
  deps: RunDeps,
): Promise<RunOutcome> {
  const cleanups: Cleanup[] = [];
  try {
    const folders = await checkFolders(settings.source, settings.dest, origins);
    const lock = await acquireLock(folders.stateDir, deps.holder);
    cleanups.push(() => lock.release());
    for (const stale of await removeStalePartials(folders.dest)) {
      deps.log.info("removed a partial file left by an interrupted run", { path: stale });
    }

    const started = deps.now();
    const stamp = stampOf(started, settings.tz);
    const dayDir = `${folders.dest}/${stamp.day}`;
    await Deno.mkdir(dayDir, { recursive: true, mode: 0o700 });
    const name = await freeArchiveName(dayDir, stamp.time, settings.compression);
    const archive = `${stamp.day}/${name}`;
    deps.log.info("backup started", { source: folders.source, archive });
    const warnings: PackWarning[] = [];
    const result = await writeArchive(folders, dayDir, name, {
      excludes: settings.excludes,
      onWarning: (warning) => {
        warnings.push(warning);
        deps.log.warn(warning.detail, { path: warning.name });
      },
      ...(deps.progress ? { progress: deps.progress } : {}),
      ...(deps.signal ? { signal: deps.signal } : {}),
    });
    const outcome = { ...result, archive, seconds: (deps.now() - started) / 1000, warnings };
    deps.log.info("backup done", {
      archive,
      files: outcome.files,
      bytes_in: outcome.bytesIn,
      bytes_out: outcome.bytesOut,
      seconds: Number(outcome.seconds.toFixed(3)),
      mb_per_s: Number((outcome.bytesIn / 1e6 / Math.max(outcome.seconds, 1e-3)).toFixed(1)),
      sha256: outcome.sha256,
      warnings: warnings.length,
    });
    return outcome;
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup();
  }
}
