// One backup run as its phases, in order (README: Architecture): prepare DEST, open the
// bucket, pre-hook, quiesce, archive, resume, upload, retention; then clean-ups (joined into
// the report), the post-hook, the result recorded, the last ping.

import { writeArchive } from "../archive/write_archive.ts";
import { checkFolders, type FolderOrigins, type Folders } from "../archive/folders.ts";
import type { PackWarning } from "../archive/tar_pack.ts";
import { describeError, RunError } from "../base/errors.ts";
import type { RemoteStore } from "../offsite/s3_store.ts";
import type { Settings } from "../settings/settings.ts";
import { freeArchiveName, localStore, removeStalePartials } from "../store/local_store.ts";
import { acquireLock } from "../store/lock.ts";
import { isoInZone, stampOf } from "../store/names.ts";
import { hasRules } from "../store/retention.ts";
import { pruneStore } from "../store/archive_store.ts";
import { storeWal } from "../store/wal_store.ts";
import { pruneWal, readWalCatalog } from "../postgres/wal_catalog.ts";
import { uploadWalFile } from "../offsite/uploads.ts";
import type { RunDeps } from "./run_deps.ts";
import { checkFreeSpace } from "./free_space.ts";
import { refuseLiveCopy } from "./readiness.ts";
import { runHook } from "./hooks.ts";
import { copyOffsite, openBucket } from "./offsite_step.ts";
import { containerEngine, quiesceForRun } from "../containers/quiesce.ts";
import type { OnlineBackup } from "../postgres/backup_session.ts";
import { notifyRun } from "../notices/notify.ts";
import { recordRun } from "../notices/metrics.ts";
import { pingRun } from "../notices/ping.ts";
import { logSummary, type RunOutcome, type RunReport, summaryLine } from "../notices/run_report.ts";
import { recordResult } from "./run_record.ts";

type Cleanup = () => void | Promise<void>;

/** Where this run writes: the checked folders, and the archive's day folder and name. */
interface Target {
  folders: Folders;
  dayDir: string;
  name: string;
  /** `YYYY-MM-DD/NAME`, relative to DEST. */
  archive: string;
  /** When the run began archiving, epoch milliseconds. */
  started: number;
}

function hookOptions(
  settings: Settings,
  deps: RunDeps,
  { interruptible }: { interruptible: boolean },
) {
  return {
    timeoutMs: settings.hookTimeoutMs,
    log: deps.log,
    // The post-hook runs to its end even after SIGTERM: it may be what restarts the database.
    ...(deps.signal && interruptible ? { signal: deps.signal } : {}),
  };
}

/**
 * One run, start to end. Never throws for a failed backup: the report says how it ended
 * (the caller logs a failure).
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
  await pingRun(settings.pingUrl, deps, "start", "");
  const cleanups: Cleanup[] = [];
  let report: RunReport;
  try {
    const { folders, sourceSpace } = await prepare(settings, origins, deps, cleanups);
    // Credentials are read now, so that a bad secret file fails the run before any work.
    const remote = settings.s3 ? await openBucket(settings, settings.s3) : undefined;
    // With PostgreSQL's backup API nothing is paused: the database keeps serving.
    const docker = settings.postgres
      ? undefined
      : await containerEngine(settings, folders.stateDir, deps.log);
    await preHook(settings, deps);
    const quiesced = await quiesceForRun(settings, docker, folders.stateDir, deps.log);
    const resume = quiesced ? once(quiesced) : undefined;
    // Containers come back even when the run failed or was interrupted.
    if (resume) cleanups.push(resume);
    await refuseLiveCopy(settings, folders.source, { quiesced: quiesced !== undefined, origins });
    const target = await pickTarget(settings, folders, deps);
    const online = await startDatabaseBackup(settings, target, deps, cleanups);
    const outcome = await archive(settings, target, online, deps, sourceSpace);
    await resume?.();
    const record = await recordBase(online, folders.dest, deps);
    abandonIfStopped(deps, outcome);
    logSummary(outcome, deps.log);
    if (remote) {
      await copyOffsite(settings, folders.dest, remote, target.archive, deps);
      if (record) await uploadWalFile(remote, folders.dest, record, deps.signal);
    }
    abandonIfStopped(deps, outcome);
    await retention(settings, folders, remote, deps);
    report = { result: outcome.warnings.length > 0 ? "warning" : "ok", outcome };
  } catch (err) {
    report = { result: "failed", error: err };
  }
  report = await runCleanups(cleanups, report);
  report = await postHook(settings, deps, report);
  report = await recordResult(settings, started, deps, report);
  if (report.outcome) await pingRun(settings.pingUrl, deps, "success", summaryLine(report.outcome));
  else await pingRun(settings.pingUrl, deps, "fail", describeError(report.error));
  await notifyRun(settings, deps, report, started);
  await recordRun(settings, report, started, deps.now(), deps.log);
  return report;
}

/** SOURCE and DEST checked, the lock taken, partials of crashed runs removed, room checked. */
async function prepare(
  settings: Settings,
  origins: FolderOrigins,
  deps: RunDeps,
  cleanups: Cleanup[],
): Promise<{ folders: Folders; sourceSpace?: (bytes: number) => Promise<void> }> {
  const folders = await checkFolders(settings.source, settings.dest, origins);
  const lock = await acquireLock(folders.stateDir, deps.holder);
  cleanups.push(() => lock.release());
  await removeStalePartials(folders.dest, deps.log);
  const sourceSpace = await checkFreeSpace(folders);
  return { folders, ...(sourceSpace ? { sourceSpace } : {}) };
}

async function preHook(settings: Settings, deps: RunDeps): Promise<void> {
  if (settings.preHook) {
    await runHook(
      "--pre-hook",
      settings.preHook,
      hookOptions(settings, deps, { interruptible: true }),
    );
  }
}

/** The archive's day folder and a name no other run of the same second took. */
async function pickTarget(settings: Settings, folders: Folders, deps: RunDeps): Promise<Target> {
  const started = deps.now();
  const stamp = stampOf(started, settings.tz);
  const dayDir = `${folders.dest}/${stamp.day}`;
  await Deno.mkdir(dayDir, { recursive: true, mode: 0o700 });
  const encrypted = settings.ageRecipients.length > 0;
  const name = await freeArchiveName(dayDir, stamp.time, settings.compression, encrypted);
  const archive = `${stamp.day}/${name}`;
  deps.log.info("backup started", { source: folders.source, archive });
  return { folders, dayDir, name, archive, started };
}

/** A function that does its work the first time it is called only. */
function once(run: () => Promise<void>): () => Promise<void> {
  let done = false;
  return async () => {
    if (done) return;
    done = true;
    await run();
  };
}

/** PostgreSQL's backup started around the copy, when --postgres is set; its session closes at the end. */
async function startDatabaseBackup(
  settings: Settings,
  target: Target,
  deps: RunDeps,
  cleanups: Cleanup[],
): Promise<OnlineBackup | undefined> {
  if (!settings.postgres) return undefined;
  const { startOnlineBackup } = await import("../postgres/backup_session.ts");
  const online = await startOnlineBackup(settings.postgres, target.folders.source, {
    label: `backupd ${target.archive}`,
    archive: target.archive,
    log: deps.log,
    now: deps.now,
  });
  cleanups.push(() => online.close());
  return online;
}

/** What a file can do while it is read, besides being readable. */
const CHANGES: ReadonlySet<PackWarning["kind"]> = new Set([
  "grew",
  "shrank",
  "changed",
  "vanished",
]);

/** SOURCE into the archive, its warnings logged as they come. */
async function archive(
  settings: Settings,
  target: Target,
  online: OnlineBackup | undefined,
  deps: RunDeps,
  sourceSpace: ((bytes: number) => Promise<void>) | undefined,
): Promise<RunOutcome> {
  const signals = [deps.signal, online?.signal].filter((s) => s !== undefined);
  const warnings: PackWarning[] = [];
  let quiet = 0;
  const result = await writeArchive(target.folders, target.dayDir, target.name, {
    excludes: settings.excludes,
    compression: settings.compression,
    ...(sourceSpace ? { checkSpace: sourceSpace } : {}),
    recipients: settings.ageRecipients,
    onWarning: (warning) => {
      // Under the backup API a file changing while it is copied is normal: the WAL in the
      // archive repairs it when the server starts, as for pg_basebackup.
      if (online && CHANGES.has(warning.kind)) {
        quiet++;
        return;
      }
      warnings.push(warning);
      deps.log.warn(warning.detail, { path: warning.name });
    },
    ...(deps.progress ? { progress: deps.progress } : {}),
    ...(signals.length > 0 ? { signal: AbortSignal.any(signals) } : {}),
    ...(online ? { online } : {}),
  });
  if (quiet > 0) {
    deps.log.info("files changed while copied; replaying the archived WAL repairs them", {
      files: quiet,
    });
  }
  const outcome = {
    ...result,
    archive: target.archive,
    path: `${target.dayDir}/${target.name}`,
    seconds: (deps.now() - target.started) / 1000,
    warnings,
  };
  return outcome;
}

/**
 * The base backup's record (start and stop LSN, timeline, times) stored in DEST/wal/ once
 * its archive is complete (README: Point-in-time recovery); its file name.
 */
async function recordBase(
  online: OnlineBackup | undefined,
  dest: string,
  deps: RunDeps,
): Promise<string | undefined> {
  const record = online?.record();
  if (!record) return undefined;
  await storeWal(dest, record.name, new TextEncoder().encode(record.text), deps.now());
  deps.log.info("base backup recorded for point-in-time recovery", { record: record.name });
  return record.name;
}

/**
 * Ends the run when SIGTERM or SIGINT asked for it while a phase that does not listen was
 * going: the archive made is kept, but neither uploaded nor followed by retention.
 */
function abandonIfStopped(deps: RunDeps, outcome: RunOutcome): void {
  if (!deps.signal?.aborted) return;
  deps.log.info("the archive is complete and kept; upload and retention are skipped", {
    archive: outcome.archive,
  });
  throw deps.signal.reason;
}

/**
 * The retention policy on DEST, then on the bucket: the same for both. The WAL that begins
 * before the oldest kept base backup goes with it.
 */
async function retention(
  settings: Settings,
  folders: Folders,
  remote: RemoteStore | undefined,
  deps: RunDeps,
): Promise<void> {
  if (!hasRules(settings.keep)) return;
  for (const store of [localStore(folders.dest), ...(remote ? [remote] : [])]) {
    const walStore = store.wal();
    const catalog = await readWalCatalog(walStore);
    const plan = await pruneStore(store, settings.keep, {
      dryRun: false,
      window: { bases: catalog.bases, now: deps.now(), show: (ms) => isoInZone(ms, settings.tz) },
    });
    for (const path of plan.remove) {
      deps.log.info("removed by retention", { archive: store.url(path), kept: plan.keep.length });
    }
    if (plan.window) {
      deps.log.info("the recovery window is kept", {
        from: isoInZone(plan.window.from, settings.tz),
        base: store.url(plan.window.holder),
      });
    }
    const wal = await pruneWal(walStore, new Set(plan.keep), { dryRun: false, catalog });
    if (wal.length > 0) {
      deps.log.info("WAL removed by retention: it begins before the oldest kept base backup", {
        files: wal.length,
        first: walStore.url(wal[0]),
        last: walStore.url(wal.at(-1)),
      });
    }
  }
}

/**
 * Runs every clean-up, last registered first, even when one fails. A failure joins the
 * report: it fails a good run, and is added to a failed run's error.
 */
async function runCleanups(cleanups: Cleanup[], report: RunReport): Promise<RunReport> {
  const failures: unknown[] = [];
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch (err) {
      failures.push(err);
    }
  }
  if (failures.length === 0) return report;
  const cleanup = failures.map(describeError).join("; ");
  if (report.result !== "failed") {
    return { result: "failed", error: new RunError(`Cannot clean up: ${cleanup}`) };
  }
  const error = new RunError(`${describeError(report.error)} (clean-up failed too: ${cleanup})`, {
    cause: new AggregateError([report.error, ...failures]),
  });
  return { result: "failed", error };
}

/** The post-hook, told how the run ended; its failure makes a good run one with warnings. */
async function postHook(settings: Settings, deps: RunDeps, report: RunReport): Promise<RunReport> {
  if (!settings.postHook) return report;
  try {
    await runHook("--post-hook", settings.postHook, {
      ...hookOptions(settings, deps, { interruptible: false }),
      env: { BACKUP_STATUS: report.result, BACKUP_ARCHIVE: report.outcome?.path ?? "" },
    });
    return report;
  } catch (err) {
    deps.log.warn("post-hook failed", { error: describeError(err) });
    return report.result === "ok" ? { ...report, result: "warning" } : report;
  }
}
