// A restore drill (README: Restore drills): the archive restored into a scratch PostgreSQL
// (lib/scratch: its own folder, no TCP listener, removed always), pg_verifybackup on it, the
// WAL placed for a point-in-time drill, recovery waited for, pg_amcheck and the operator's
// checks. Each step is timed; restore and start with recovery are the RTO.

import { describeError } from "../base/errors.ts";
import type { Logger } from "../base/log.ts";
import { bootstrapSuperuser, DRILL_PROGRAMS } from "../postgres/pg_programs.ts";
import type { Settings } from "../settings/settings.ts";
import { placeRecovery, type RecoveryPlan } from "../postgres/pitr.ts";
import { WalDamageError } from "../postgres/wal_read.ts";
import { formatLsn } from "../store/wal_names.ts";
import type { WalStore } from "../store/wal_store.ts";
import { type CheckOutcome, type PgProcess, ScratchProblem } from "../scratch/pg_process.ts";
import { Scratch } from "../scratch/scratch.ts";

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
  let scratch: Scratch | undefined;
  try {
    scratch = await Scratch.open(settings.drillDir, size, deps);
    deps.log.info("drill started", { archive: source.shown, scratch: scratch.path });
    const server = await restoreAndStart(settings, source, scratch, report, deps);
    await checkDatabase(settings, server, report, deps);
    report.result = report.problem ? "failed" : "passed";
  } catch (err) {
    report.problem = describeError(deps.signal?.aborted ? deps.signal.reason : err);
    // Damaged WAL is a problem in the backup, as a damaged table file is.
    const problem = err instanceof ScratchProblem || err instanceof WalDamageError;
    report.result = problem && !deps.signal?.aborted ? "failed" : "error";
  } finally {
    await scratch?.close();
  }
  report.ended = new Date(deps.now()).toISOString();
  return report;
}

/** The restore, pg_verifybackup and the start, each timed into the report. */
async function restoreAndStart(
  settings: Settings,
  source: DrillSource,
  scratch: Scratch,
  report: DrillReport,
  deps: DrillDeps,
): Promise<PgProcess> {
  let t = deps.now();
  await scratch.restore(source);
  report.seconds.restore = seconds(deps.now() - t);
  report.bytes.restored = await scratch.restoredBytes();
  deps.log.info("drill: restored", {
    seconds: report.seconds.restore,
    bytes: report.bytes.restored,
  });
  const manifest = await Deno.stat(`${scratch.data}/backup_manifest`).then(() => true, () => false);
  const server = await scratch.server(settings.pgBin, [
    ...DRILL_PROGRAMS,
    ...(manifest ? ["pg_verifybackup"] : []),
  ]);
  await verifyStep(server, manifest, report, deps);
  if (source.recovery) {
    // After pg_verifybackup, which checks the base as it was archived.
    t = deps.now();
    const { plan, store, segmentBytes } = source.recovery;
    const placed = await placeRecovery(plan, scratch.data, {
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
