// One backup run, its steps in order: check folders, lock, clear stale partials, archive,
// write the sidecar, commit. Clean-ups are registered as the run goes and always run.

import { basename } from "node:path";
import { syncFolder, writePartial } from "./atomic_file.ts";
import { excludeMatcher } from "./glob.ts";
import { gzip } from "./gzip.ts";
import { acquireLock } from "./lock.ts";
import type { Logger } from "./log.ts";
import { sidecarName, sidecarText, stampOf } from "./names.ts";
import { loadOwnerNames } from "./owners.ts";
import { checkFolders, type FolderOrigins, type Folders } from "./preflight.ts";
import type { ProgressBar } from "./progress.ts";
import type { Settings } from "./settings.ts";
import { freeArchiveName, removeStalePartials } from "./store.ts";
import { packTree, type PackWarning } from "./tar_pack.ts";
import { walkTree } from "./walk.ts";

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
export interface RunOutcome {
  /** The archive, relative to DEST. */
  archive: string;
  /** Regular files stored. */
  files: number;
  /** Bytes of file content read. */
  bytesIn: number;
  /** Bytes of the archive. */
  bytesOut: number;
  /** Wall time of the run. */
  seconds: number;
  /** sha256 of the archive. */
  sha256: string;
  /** Paths that could not be stored as they were. */
  warnings: PackWarning[];
}

type Cleanup = () => void | Promise<void>;

async function sumFileBytes(folders: Folders, exclude: (rel: string) => boolean): Promise<number> {
  let total = 0;
  for await (const entry of walkTree(folders.source, { exclude, skipFolders: folders.skip })) {
    if (entry.info.isFile) total += entry.info.size;
  }
  return total;
}

async function writeArchive(
  settings: Settings,
  folders: Folders,
  deps: RunDeps,
  cleanups: Cleanup[],
): Promise<RunOutcome> {
  const started = deps.now();
  const stamp = stampOf(started, settings.tz);
  const dayDir = `${folders.dest}/${stamp.day}`;
  await Deno.mkdir(dayDir, { recursive: true, mode: 0o700 });
  const name = await freeArchiveName(dayDir, stamp.time, settings.compression);
  const archive = `${stamp.day}/${name}`;
  deps.log.info("backup started", { source: folders.source, archive });

  const exclude = excludeMatcher(settings.excludes);
  const bar = deps.progress?.(await sumFileBytes(folders, exclude));
  if (bar) cleanups.push(() => bar.stop());
  const warnings: PackWarning[] = [];
  const pack = packTree(folders.source, basename(folders.source) || "root", {
    exclude,
    skipFolders: folders.skip,
    owners: await loadOwnerNames(),
    onWarning: (warning) => {
      warnings.push(warning);
      deps.log.warn(warning.detail, { path: warning.name });
    },
    ...(bar ? { onBytes: (n: number) => bar.add(n) } : {}),
    ...(deps.signal ? { signal: deps.signal } : {}),
  });
  // The stream carries the same error; this keeps the promise from rejecting unobserved.
  pack.done.catch(() => undefined);

  const written = await writePartial(dayDir, name, gzip(pack.readable));
  cleanups.push(written.discard);
  const stats = await pack.done;
  const sidecar = await writePartial(
    dayDir,
    sidecarName(name),
    ReadableStream.from([new TextEncoder().encode(sidecarText(written.sha256, name))]),
  );
  cleanups.push(sidecar.discard);
  await written.commit();
  await sidecar.commit();
  await syncFolder(dayDir);
  await syncFolder(folders.dest);

  return {
    archive,
    files: stats.files,
    bytesIn: stats.bytes,
    bytesOut: written.bytes,
    seconds: (deps.now() - started) / 1000,
    sha256: written.sha256,
    warnings,
  };
}

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
    const outcome = await writeArchive(settings, folders, deps, cleanups);
    deps.log.info("backup done", {
      archive: outcome.archive,
      files: outcome.files,
      bytes_in: outcome.bytesIn,
      bytes_out: outcome.bytesOut,
      seconds: Number(outcome.seconds.toFixed(3)),
      mb_per_s: Number((outcome.bytesIn / 1e6 / Math.max(outcome.seconds, 1e-3)).toFixed(1)),
      sha256: outcome.sha256,
      warnings: outcome.warnings.length,
    });
    return outcome;
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup();
  }
}
