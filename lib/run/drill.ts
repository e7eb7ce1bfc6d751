// A restore drill (README: Restore drills): the archive restored into a scratch folder,
// pg_verifybackup on it, PostgreSQL started on it as an unprivileged user with no TCP
// listener, recovery waited for, pg_amcheck and the operator's checks, the server stopped,
// the scratch folder removed, always: on failure, on SIGTERM (the server stopped first),
// and a killed drill's leftovers by the next drill. Each step is timed; the sum is the RTO.

import { statfs } from "node:fs/promises";
import { describeError, RunError } from "../base/errors.ts";
import { formatBytes } from "../base/bytes.ts";
import type { Logger } from "../base/log.ts";
import { restoreArchive } from "../read/restore.ts";
import { bootstrapSuperuser, DRILL_PROGRAMS, findPrograms } from "../postgres/pg_programs.ts";
import type { Settings } from "../settings/settings.ts";
import { placeRecovery, type RecoveryPlan } from "../postgres/pitr.ts";
import { WalDamageError } from "../postgres/wal_read.ts";
import { formatLsn } from "../store/wal_names.ts";
import type { WalStore } from "../store/wal_store.ts";
import { type CheckOutcome, DrillProblem, ownerOf, PgProcess } from "./drill_process.ts";

/** How a drill ended: passed, a check or amcheck found a problem, or it could not run. */
export type DrillResult = "passed" | "failed" | "error";

/** What a drill reports. */
export interface DrillReport {
  /** How it ended. */
  result: DrillResult;
  /** The archive drilled, as shown. */
  archive: string;
  /** For a point-in-time drill: the base's archive, relative to DEST (what list marks). */
  base?: string;
  /** When it started, ISO 8601. */
  started: string;
  /** When it ended, ISO 8601. */
  ended: string;
  /** Seconds per step; the RTO is restore + start (recovery included). */
  seconds: { restore: number; verify?: number; start: number; amcheck?: number; checks?: number };
  /** Seconds from the start to a database that answers: what a real recovery takes. */
  rtoSeconds?: number;
  /** Bytes of the archive, and of the restored folder. */
  bytes: { archive: number; restored?: number };
  /** Why pg_verifybackup was skipped, when it was. */
  verifySkipped?: string;
  /** The checks, in order. */
  checks: CheckOutcome[];
  /** What failed, in one line, if anything. */
  problem?: string;
}

/** What a drill needs from its surroundings. */
export interface DrillDeps {
  /** Where events go: one INFO line per step. */
  log: Logger;
  /** The clock, epoch ms. */
  now: () => number;
  /** SIGTERM or SIGINT: the server is stopped, the scratch folder removed. */
  signal?: AbortSignal;
  /** Whether this process is root (owners are kept; the server runs as the data's owner). */
  isRoot: boolean;
}

/** The archive to drill. */
export interface DrillSource {
  /** Its file. */
  file: string;
  /** How it is shown. */
  shown: string;
  /** age identities for an encrypted archive. */
  identities?: readonly string[];
  /** For a point-in-time drill: the WAL to put into the restored base (README: Point-in-time recovery). */
  recovery?: { plan: RecoveryPlan; store: WalStore; segmentBytes: number };
}

/** A drill's scratch folder is made with this prefix in --drill-dir. */
export const SCRATCH_PREFIX = "backupd-drill-scratch-";

/** Free space the drill wants, as a multiple of the archive's size. */
const SPACE_FACTOR = 4;

const seconds = (ms: number) => Number((ms / 1000).toFixed(3));

/**
 * Runs one drill; never throws for a drill that fails or cannot run: the report says so.
 *
 * @example
 * ```ts ignore
 * const report = await runDrill(settings, { file, shown: "2026-12-03/01-00-00.tar.gz" }, deps);
 * ```
 */
export async function runDrill(
  settings: Settings,
  source: DrillSource,
  deps: DrillDeps,
): Promise<DrillReport> {
  const started = deps.now();
  const size = (await Deno.stat(source.file)).size;
  const report: DrillReport = {
    result: "error",
    archive: source.shown,
    ...(source.recovery ? { base: source.recovery.plan.base.archive } : {}),
    started: new Date(started).toISOString(),
    ended: "",
    seconds: { restore: 0, start: 0 },
    bytes: { archive: size },
    checks: [],
  };
  await removeLeftovers(settings.drillDir, deps.log);
  let scratch: string | undefined;
  let server: PgProcess | undefined;
  try {
    await checkRoom(settings.drillDir, size);
    scratch = await Deno.makeTempDir({ dir: settings.drillDir, prefix: SCRATCH_PREFIX });
    await Deno.writeTextFile(`${scratch}/pid`, `${Deno.pid}\n`);
    deps.log.info("drill started", { archive: source.shown, scratch });
    server = await restoreAndStart(settings, source, scratch, report, deps);
    await checkDatabase(settings, server, report, deps);
    report.result = report.problem ? "failed" : "passed";
  } catch (err) {
    report.problem = describeError(deps.signal?.aborted ? deps.signal.reason : err);
    // Damaged WAL is a problem in the backup, as a damaged table file is.
    const problem = err instanceof DrillProblem || err instanceof WalDamageError;
    report.result = problem && !deps.signal?.aborted ? "failed" : "error";
  } finally {
    await server?.stop().catch((err) =>
      deps.log.warn("cannot stop the drill's server", { error: describeError(err) })
    );
    // A folder that cannot be removed is said, never a stack trace; the next drill retries.
    if (scratch) {
      await Deno.remove(scratch, { recursive: true }).catch((err) =>
        deps.log.warn("cannot remove the drill's scratch folder", {
          path: scratch,
          error: describeError(err),
        })
      );
    }
  }
  report.ended = new Date(deps.now()).toISOString();
  return report;
}

async function checkRoom(dir: string, archiveBytes: number): Promise<void> {
  let free: number;
  try {
    const fs = await statfs(dir);
    free = fs.bavail * fs.bsize;
  } catch (err) {
    throw new RunError(`Cannot run the restore drill in "${dir}": ${describeError(err)}`, {
      cause: err,
    });
  }
  const needed = archiveBytes * SPACE_FACTOR;
  if (free < needed) {
    throw new RunError(
      `Cannot run the restore drill in "${dir}": ${
        formatBytes(free)
      } free, and ${SPACE_FACTOR} x the archive is ${
        formatBytes(needed)
      } (give --drill-dir a larger folder)`,
    );
  }
}

/** The restore, pg_verifybackup and the start, each timed into the report. */
async function restoreAndStart(
  settings: Settings,
  source: DrillSource,
  scratch: string,
  report: DrillReport,
  deps: DrillDeps,
): Promise<PgProcess> {
  const data = `${scratch}/data`;
  let t = deps.now();
  await restoreArchive(source.file, data, {
    owners: deps.isRoot,
    ...(source.identities ? { identities: source.identities } : {}),
    label: source.shown,
  });
  report.seconds.restore = seconds(deps.now() - t);
  report.bytes.restored = await folderBytes(data);
  deps.log.info("drill: restored", {
    seconds: report.seconds.restore,
    bytes: report.bytes.restored,
  });
  const major = await majorOf(data);
  const manifest = await Deno.stat(`${data}/backup_manifest`).then(() => true, () => false);
  const programs = await findPrograms(settings.pgBin, major, [
    ...DRILL_PROGRAMS,
    ...(manifest ? ["pg_verifybackup"] : []),
  ]);
  const owner = await ownerOf(data, deps.isRoot);
  // The server's user must reach its folder inside the scratch folder.
  if (owner) await Deno.chmod(scratch, 0o711);
  const server = new PgProcess(programs, scratch, owner, deps.signal);
  await verifyStep(server, manifest, report, deps);
  if (source.recovery) {
    // After pg_verifybackup, which checks the base as it was archived.
    t = deps.now();
    const { plan, store, segmentBytes } = source.recovery;
    const placed = await placeRecovery(plan, data, {
      store,
      identities: source.identities ?? [],
      segmentBytes,
      timeZone: settings.tz,
    });
    report.seconds.restore = seconds(report.seconds.restore * 1000 + deps.now() - t);
    deps.log.info("drill: WAL put in place for recovery", {
      files: placed.files,
      records: placed.chain.records,
      wal_ends: formatLsn(placed.chain.end),
    });
  }
  t = deps.now();
  await server.start();
  report.seconds.start = seconds(deps.now() - t);
  report.rtoSeconds = seconds(report.seconds.restore * 1000 + report.seconds.start * 1000);
  deps.log.info("drill: started and recovered", {
    seconds: report.seconds.start,
    rto_seconds: report.rtoSeconds,
  });
  return server;
}

/** pg_verifybackup when the archive has a manifest; said when it has none. */
async function verifyStep(
  server: PgProcess,
  manifest: boolean,
  report: DrillReport,
  deps: DrillDeps,
): Promise<void> {
  if (!manifest) {
    report.verifySkipped = "a plain archive has no backup_manifest";
    deps.log.info("drill: pg_verifybackup skipped: a plain archive has no backup_manifest");
    return;
  }
  const t = deps.now();
  await server.verifyBackup();
  report.seconds.verify = seconds(deps.now() - t);
  deps.log.info("drill: pg_verifybackup passed", { seconds: report.seconds.verify });
}

/** pg_amcheck, then each check, timed into the report; a failed check fails the report. */
async function checkDatabase(
  settings: Settings,
  server: PgProcess,
  report: DrillReport,
  deps: DrillDeps,
): Promise<void> {
  const user = await bootstrapSuperuser(server.data) ?? "postgres";
  let t = deps.now();
  await server.amcheck(user);
  report.seconds.amcheck = seconds(deps.now() - t);
  deps.log.info("drill: pg_amcheck passed", { seconds: report.seconds.amcheck });
  t = deps.now();
  for (const sql of settings.drillChecks) {
    const outcome = await server.check(user, settings.drillDatabase, sql);
    report.checks.push(outcome);
    if (outcome.ok) deps.log.info("drill: check passed", { check: sql });
    else deps.log.error("drill: check failed", { check: sql, answer: outcome.answer });
  }
  report.seconds.checks = seconds(deps.now() - t);
  const failed = report.checks.filter((c) => !c.ok);
  if (failed.length > 0) {
    report.problem = failed.map((c) =>
      `check "${c.sql}" in database "${c.database}" answered ${c.answer}`
    ).join("; ");
  }
}

async function majorOf(data: string): Promise<number> {
  try {
    const text = (await Deno.readTextFile(`${data}/PG_VERSION`)).trim();
    const major = Number(text.split(".")[0]);
    if (!Number.isInteger(major) || major <= 0) throw new Error(text);
    return major;
  } catch (err) {
    throw new RunError(
      "Cannot run the restore drill: the archive holds no PostgreSQL data folder (no PG_VERSION)",
      { cause: err },
    );
  }
}

async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) total += await folderBytes(path);
    else if (entry.isFile) total += (await Deno.lstat(path)).size;
  }
  return total;
}

/**
 * Removes what a killed drill left in `dir`: scratch folders whose drill process is gone,
 * their server stopped first.
 */
async function removeLeftovers(dir: string, log: Logger): Promise<void> {
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch {
    return;
  }
  for (const entry of entries) {
    if (!entry.isDirectory || !entry.name.startsWith(SCRATCH_PREFIX)) continue;
    const scratch = `${dir}/${entry.name}`;
    // Only a folder a drill made (it holds the drill's pid) whose drill is gone.
    const pid = Number((await Deno.readTextFile(`${scratch}/pid`).catch(() => "")).trim());
    if (!(pid > 0) || alive(pid)) continue;
    await PgProcess.stopLeftover(scratch);
    await Deno.remove(scratch, { recursive: true });
    log.info("removed the scratch folder of an interrupted drill", { path: scratch });
  }
}

function alive(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}
