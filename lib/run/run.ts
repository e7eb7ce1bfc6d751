// One backup run, its steps in order: ping start, check folders, lock, clear stale
// partials, archive, summary, off-site copy, retention, record the result, ping the end.
// Clean-ups always run.

import { writeArchive } from "../archive/write_archive.ts";
import { acquireLock } from "../store/lock.ts";
import type { Logger } from "../base/log.ts";
import { stampOf } from "../store/names.ts";
import { checkFolders, type FolderOrigins } from "../archive/folders.ts";
import { hasRules, prune } from "../store/prune.ts";
import type { Settings } from "../settings/settings.ts";
import { freeArchiveName, removeStalePartials } from "../store/local_store.ts";
import type { PackWarning } from "../archive/tar_pack.ts";
import { type DockerApi, dockerClient } from "./docker.ts";
import { parseDockerHost } from "../settings/docker_host.ts";
import { runHook } from "./hooks.ts";
import { quiesce, resumeLeftovers } from "./quiesce.ts";
import { statIfPresent } from "../base/files.ts";
import { describeError } from "../base/errors.ts";
import { pruneRemote } from "../offsite/uploads.ts";
import { checkFreeSpace } from "./free_space.ts";
import type { RunDeps } from "./deps.ts";
import { ping, recordResult, type RunOutcome, type RunReport, summaryLine } from "./result.ts";
import { copyOffsite } from "./offsite_step.ts";

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

/**
 * Makes one backup of `settings.source` into `settings.dest` and logs its summary line;
 * throws when it fails.
 *
 * @example
 * ```ts ignore
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
 * ```ts ignore
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
