// One backup run, its steps in order: ping start, check folders, lock, clear stale
// partials, archive, summary, off-site copy, retention, record the result, ping the end.
// Clean-ups always run.

import { statfs } from "node:fs/promises";
import { resolve } from "node:path";
import { type ArchiveResult, writeArchive } from "../archive/write_archive.ts";
import { acquireLock } from "../store/lock.ts";
import type { Logger } from "../base/log.ts";
import { stampOf } from "../store/names.ts";
import { checkFolders, type FolderOrigins, type Folders } from "../archive/folders.ts";
import { formatBytes } from "../base/progress.ts";
import { excludeMatcher } from "../base/glob.ts";
import { hasRules, prune } from "../store/prune.ts";
import { treeBytes } from "../archive/walk.ts";
import type { ProgressBar } from "../base/progress.ts";
import type { Settings } from "../settings/settings.ts";
import { freeArchiveName, listArchives, removeStalePartials } from "../store/local_store.ts";
import type { PackWarning } from "../archive/tar_pack.ts";
import { type DockerApi, dockerClient } from "./docker.ts";
import { parseDockerHost } from "../settings/docker_host.ts";
import { runHook } from "./hooks.ts";
import { quiesce, resumeLeftovers } from "./quiesce.ts";
import { sendPing } from "./ping.ts";
import { type RunResult, writeLastRun } from "../store/run_status.ts";
import { stateDirOf } from "../store/state_file.ts";
import { statIfPresent } from "../base/files.ts";
import { describeError, RunError } from "../base/errors.ts";
import type { RemoteStore } from "../offsite/s3_store.ts";
import { abortableSleep, pruneRemote, uploadMissing } from "../offsite/uploads.ts";
import { applyPolicy } from "../store/retention.ts";

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
  /** The fetch for pings. @default {globalThis.fetch} */
  fetch?: typeof fetch;
  /** Waits between upload attempts. @default {abortableSleep} */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** A finished run. */
export interface RunOutcome extends ArchiveResult {
  /** The archive, relative to DEST. */
  archive: string;
  /** The archive's absolute path. */
  path: string;
  /** Wall time of the run. */
  seconds: number;
  /** Paths that could not be stored as they were. */
  warnings: PackWarning[];
}

/** How a run ended. */
export interface RunReport {
  result: RunResult;
  /** The archive made, unless the run failed. */
  outcome?: RunOutcome;
  /** Why the run failed. */
  error?: unknown;
}

type Cleanup = () => void | Promise<void>;

function hookOptions(settings: Settings, deps: RunDeps, interruptible: boolean) {
  return {
    timeoutMs: settings.hookTimeoutMs,
    log: deps.log,
    // The post-hook runs to its end even after SIGTERM: it may be what restarts the database.
    ...(deps.signal && interruptible ? { signal: deps.signal } : {}),
  };
}

/** The Docker engine to quiesce containers through, after undoing a crashed run's leftovers. */
async function dockerFor(
  settings: Settings,
  stateDir: string,
  log: Logger,
): Promise<DockerApi | undefined> {
  if (settings.docker === undefined) return undefined;
  const endpoint = parseDockerHost(settings.docker.host);
  // Without DOCKER_HOST, no socket at the default path means no Docker here: nothing to do.
  if (!settings.docker.explicit && endpoint.socket) {
    if (await statIfPresent(endpoint.socket) === undefined) return undefined;
  }
  const api = dockerClient(endpoint);
  await resumeLeftovers(stateDir, api, log);
  return api;
}

/** What a file can do while it is read, besides being readable. */
const CHANGES: ReadonlySet<PackWarning["kind"]> = new Set([
  "grew",
  "shrank",
  "changed",
  "vanished",
]);

/** Free space a run needs, as a multiple of the newest archive (or of SOURCE without one). */
export const SPACE_FACTOR = 1.5;

async function checkFreeSpace(folders: Folders, excludes: readonly string[]): Promise<void> {
  const newest = (await listArchives(folders.dest)).at(-1);
  const basis = newest
    ? {
      bytes: (await Deno.stat(`${folders.dest}/${newest.path}`)).size,
      what: "the newest archive",
    }
    : {
      bytes: await treeBytes(folders.source, {
        skipFolders: folders.skip,
        exclude: excludeMatcher(excludes),
      }),
      what: "the source (no archive yet)",
    };
  const fs = await statfs(folders.dest);
  const free = fs.bavail * fs.bsize;
  const needed = Math.ceil(basis.bytes * SPACE_FACTOR);
  if (free < needed) {
    throw new RunError(
      `Cannot start the backup: "${folders.dest}" has ${
        formatBytes(free)
      } free, and ${SPACE_FACTOR} x ${basis.what} is ${formatBytes(needed)}`,
    );
  }
}

async function ping(
  settings: Settings,
  deps: RunDeps,
  event: "start" | "success" | "fail",
  body: string,
) {
  if (settings.pingUrl === undefined) return;
  try {
    // An interrupted run must still exit within 2 seconds: its last ping waits 1 s at most.
    const timeoutMs = deps.signal?.aborted ? 1_000 : 10_000;
    await sendPing(settings.pingUrl, event, body, {
      timeoutMs,
      ...(deps.fetch ? { fetch: deps.fetch } : {}),
    });
  } catch (err) {
    // A ping that cannot be delivered is worth a warning, never a failed backup.
    deps.log.warn("ping failed", { event, error: describeError(err) });
  }
}

function summaryLine(outcome: RunOutcome): string {
  return `archive=${outcome.archive} files=${outcome.files} bytes_in=${outcome.bytesIn} bytes_out=${outcome.bytesOut} seconds=${
    outcome.seconds.toFixed(3)
  } sha256=${outcome.sha256} warnings=${outcome.warnings.length}`;
}

/**
 * Makes one backup of `settings.source` into `settings.dest` and logs its summary line;
 * throws when it fails.
 *
 * @example
 * ```ts
 * const outcome = await backUp(settings, origins, deps);
 * ```
 */
async function backUp(
  settings: Settings,
  origins: FolderOrigins,
  deps: RunDeps,
): Promise<RunOutcome> {
  const cleanups: Cleanup[] = [];
  let outcome: RunOutcome;
  try {
    outcome = await backUpSteps(settings, origins, deps, cleanups);
  } catch (err) {
    // The run's own error says more than a clean-up's, which is logged.
    const cleanupFailure = await runCleanups(cleanups);
    if (cleanupFailure !== undefined) {
      deps.log.error("clean-up failed", { error: describeError(cleanupFailure) });
    }
    throw err;
  }
  const cleanupFailure = await runCleanups(cleanups);
  if (cleanupFailure !== undefined) throw cleanupFailure;
  return outcome;
}

/** The steps of a backup in order; each registers in `cleanups` what must be undone. */
async function backUpSteps(
  settings: Settings,
  origins: FolderOrigins,
  deps: RunDeps,
  cleanups: Cleanup[],
): Promise<RunOutcome> {
  const folders = await checkFolders(settings.source, settings.dest, origins);
  const lock = await acquireLock(folders.stateDir, deps.holder);
  cleanups.push(() => lock.release());
  for (const stale of await removeStalePartials(folders.dest)) {
    deps.log.info("removed a partial file left by an interrupted run", { path: stale });
  }
  await checkFreeSpace(folders, settings.excludes);
  // Credentials are read now, so that a bad secret file fails the run before any work. The
  // AWS SDK is loaded only when it is needed: it costs every start ~60 ms and ~18 MB.
  const remote = settings.s3
    ? await (await import("../offsite/s3_store.ts")).openRemote(
      settings.s3Connection,
      settings.s3,
      {
        credentials: settings.s3Credentials,
      },
    )
    : undefined;
  // With PostgreSQL's backup API nothing is paused: the database keeps serving.
  const docker = settings.postgres
    ? undefined
    : await dockerFor(settings, folders.stateDir, deps.log);
  if (settings.preHook) {
    await runHook("--pre-hook", settings.preHook, hookOptions(settings, deps, true));
  }
  const resumeContainers = docker ? await quiesce(folders.stateDir, docker, deps.log) : undefined;
  let resumed = false;
  cleanups.push(async () => {
    // Containers come back even when the run failed or was interrupted.
    if (resumeContainers && !resumed) await resumeContainers();
  });

  const started = deps.now();
  const stamp = stampOf(started, settings.tz);
  const dayDir = `${folders.dest}/${stamp.day}`;
  await Deno.mkdir(dayDir, { recursive: true, mode: 0o700 });
  const name = await freeArchiveName(
    dayDir,
    stamp.time,
    settings.compression,
    settings.ageRecipients.length > 0,
  );
  const archive = `${stamp.day}/${name}`;
  deps.log.info("backup started", { source: folders.source, archive });
  const online = settings.postgres
    ? await (await import("./postgres.ts")).startOnlineBackup(settings.postgres, folders.source, {
      label: `backupd ${archive}`,
      log: deps.log,
      now: deps.now,
    })
    : undefined;
  if (online) cleanups.push(() => online.close());
  const signals = [deps.signal, online?.signal].filter((s) => s !== undefined);
  const warnings: PackWarning[] = [];
  let changedOnline = 0;
  const result = await writeArchive(folders, dayDir, name, {
    excludes: settings.excludes,
    compression: settings.compression,
    recipients: settings.ageRecipients,
    onWarning: (warning) => {
      // Under the backup API a file changing while it is copied is normal: the WAL in the
      // archive repairs it when the server starts, as for pg_basebackup.
      if (online && CHANGES.has(warning.kind)) {
        changedOnline++;
        return;
      }
      warnings.push(warning);
      deps.log.warn(warning.detail, { path: warning.name });
    },
    ...(deps.progress ? { progress: deps.progress } : {}),
    ...(signals.length > 0 ? { signal: AbortSignal.any(signals) } : {}),
    ...(online ? { online } : {}),
  });
  if (changedOnline > 0) {
    deps.log.info("files changed while copied; replaying the archived WAL repairs them", {
      files: changedOnline,
    });
  }
  resumed = true;
  await resumeContainers?.();
  const outcome = {
    ...result,
    archive,
    path: `${dayDir}/${name}`,
    seconds: (deps.now() - started) / 1000,
    warnings,
  };
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
  if (remote) await copyOffsite(settings, folders.dest, remote, archive, deps);
  if (hasRules(settings.keep)) {
    const plan = await prune(folders.dest, settings.keep, { dryRun: false });
    for (const path of plan.remove) {
      deps.log.info("removed by retention", { archive: path, kept: plan.keep.length });
    }
    if (remote) {
      const remotePlan = await pruneRemote(remote, settings.keep, { dryRun: false });
      for (const path of remotePlan.remove) {
        deps.log.info("removed by retention", {
          archive: remote.url(path),
          kept: remotePlan.keep.length,
        });
      }
    }
  }
  return outcome;
}

/**
 * Uploads this run's archive and every other one the bucket lacks (of those retention
 * keeps). A failure fails the run; the local archives stay for the next run to upload.
 */
async function copyOffsite(
  settings: Settings,
  dest: string,
  remote: RemoteStore,
  archive: string,
  deps: RunDeps,
): Promise<void> {
  const local = await listArchives(dest);
  const kept = hasRules(settings.keep)
    ? new Set(applyPolicy(local, settings.keep).keep)
    : undefined;
  try {
    const wanted = local.filter((a) => kept?.has(a.path) ?? true);
    await uploadMissing(remote, wanted.map((a) => ({ ...a, file: `${dest}/${a.path}` })), {
      log: deps.log,
      sleep: deps.sleep ?? abortableSleep,
      ...(deps.signal ? { signal: deps.signal } : {}),
    });
  } catch (err) {
    // Interrupted: the interruption is the reason, not the upload it cut short.
    if (deps.signal?.aborted) throw deps.signal.reason ?? err;
    throw new RunError(
      `${
        describeError(err)
      } (the local archive ${archive} is kept; the next run uploads what the bucket lacks)`,
      { cause: err },
    );
  }
}

/** Runs every clean-up, last registered first, even when one fails; returns the first failure. */
async function runCleanups(cleanups: Cleanup[]): Promise<unknown> {
  let failure: unknown;
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch (err) {
      failure ??= err;
    }
  }
  return failure;
}

/**
 * One run, start to end: pings, the backup, and the result recorded for `health`. Never
 * throws for a failed backup: the report says how it ended (the caller logs a failure).
 *
 * @example
 * ```ts
 * const report = await runBackup(settings, { source: "--source", dest: "--dest" }, {
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
): Promise<RunReport> {
  const started = deps.now();
  await ping(settings, deps, "start", "");
  let report: RunReport;
  try {
    const outcome = await backUp(settings, origins, deps);
    report = { result: outcome.warnings.length > 0 ? "warning" : "ok", outcome };
  } catch (err) {
    report = { result: "failed", error: err };
  }
  if (settings.postHook) {
    try {
      await runHook("--post-hook", settings.postHook, {
        ...hookOptions(settings, deps, false),
        env: { BACKUP_STATUS: report.result, BACKUP_ARCHIVE: report.outcome?.path ?? "" },
      });
    } catch (err) {
      deps.log.warn("post-hook failed", { error: describeError(err) });
      if (report.result === "ok") report = { ...report, result: "warning" };
    }
  }
  report = await recordResult(settings, started, deps, report);
  if (report.outcome) await ping(settings, deps, "success", summaryLine(report.outcome));
  else await ping(settings, deps, "fail", describeError(report.error));
  return report;
}

/**
 * Writes the run's result for `health`. A result that cannot be written makes a good run
 * fail: nothing would show that it ran.
 */
async function recordResult(
  settings: Settings,
  started: number,
  deps: RunDeps,
  report: RunReport,
): Promise<RunReport> {
  try {
    await writeLastRun(stateDirOf(resolve(settings.dest)), {
      started: new Date(started).toISOString(),
      finished: new Date(deps.now()).toISOString(),
      result: report.result,
      ...(report.outcome ? { archive: report.outcome.archive } : {}),
      ...(report.error !== undefined ? { error: describeError(report.error) } : {}),
    });
    return report;
  } catch (err) {
    // A run that failed already says why in its own line (often the same unwritable DEST);
    // health sees an unwritable state folder by itself.
    if (report.result === "failed") return report;
    deps.log.error("cannot record the run's result", { error: describeError(err) });
    return { result: "failed", error: err };
  }
}
