// `backupd drill [latest|ARCHIVE]`: a restore drill (README: Restore drills): restore into
// a scratch folder, pg_verifybackup, start PostgreSQL, pg_amcheck, the checks, stop, remove;
// the report and its timings; exit 0 passed, 1 a problem found, 2 could not run.

import { resolve } from "node:path";
import { EXIT, STOP_CODES, UsageError } from "../base/errors.ts";
import { drillOnSchedule, Turns } from "../daemon/drills.ts";
import { systemClock } from "../daemon/daemon.ts";
import { stopOnSignals } from "../daemon/stop_signals.ts";
import { type DrillReport, type DrillSource, runDrill } from "../drill/drill.ts";
import { localStore } from "../store/local_store.ts";
import { readWalCatalog } from "../postgres/wal_catalog.ts";
import { planRecovery } from "../postgres/pitr.ts";
import { parseTargetTime } from "./restore.ts";
import { afterDrill } from "../drill/drill_notices.ts";
import type { Command, CommandContext } from "./command.ts";
import { existingDest, identitiesOf, LATEST, locate } from "./find_archive.ts";

/** `backupd drill [ARCHIVE] [--json]`. */
export const drillCommand: Command = {
  name: "drill",
  description:
    "restore an archive into a scratch folder, start PostgreSQL on it, check it, remove it",
  settings: [
    "dest",
    "tz",
    "logFormat",
    "drillDir",
    "drillCheck",
    "drillDatabase",
    "pgBin",
    "postgres",
    "ageIdentity",
    "notify",
    "notifyOn",
    "metricsFile",
    "drillSchedule",
    "catchUp",
  ],
  operands: { spec: "[archive]", help: "latest (the default), a path or a name relative to DEST" },
  options: {
    json: { flag: "--json", help: "print the report as one JSON object" },
    scheduled: {
      flag: "--scheduled",
      help:
        "drill the newest archive at each --drill-schedule slot until stopped (the restore-drill service)",
    },
    toTime: {
      flag: "--to-time <time>",
      help: 'drill a point-in-time recovery: "YYYY-MM-DD HH:MM:SS" (in TZ), ISO 8601, or latest',
    },
  },
  run: drill,
};

async function drill(ctx: CommandContext): Promise<number> {
  const { settings, log, io } = ctx;
  const dest = await existingDest(settings, "run the restore drill");
  if (ctx.options.scheduled) return await drillScheduled(ctx, dest);
  const { identities } = await identitiesOf(settings);
  const source = ctx.options.toTime === undefined
    ? await archiveSource(dest, ctx.operands[0] ?? LATEST, identities)
    : await recoverySource(ctx, dest, String(ctx.options.toTime), identities);
  const stop = stopOnSignals(io.onSignal, log, () => true);
  const report = await runDrill(settings, source, {
    log,
    now: ctx.now,
    isRoot: ctx.isRoot,
    signal: stop.signal,
  }).finally(() => stop.dispose());
  await afterDrill(settings, dest, report, { log, now: ctx.now });
  ctx.stdout(ctx.options.json ? `${JSON.stringify(report)}\n` : reportText(report));
  const stoppedBy = stop.stoppedBy();
  if (stoppedBy) return STOP_CODES[stoppedBy];
  if (report.result === "passed") return EXIT.ok;
  log.error(report.result === "failed" ? "drill failed" : "drill could not run", {
    error: report.problem,
  });
  return report.result === "failed" ? 1 : EXIT.failed;
}

/**
 * `drill --scheduled`: the newest archive drilled at each slot of --drill-schedule until
 * SIGTERM or SIGINT, as the daemon's drills are (README: Restore drills).
 */
async function drillScheduled(ctx: CommandContext, dest: string): Promise<number> {
  const { settings, log, io } = ctx;
  if (!settings.drillSchedule) {
    throw new UsageError(
      'Cannot run drills on a schedule: give --drill-schedule (or BACKUP_DRILL_SCHEDULE), e.g. "0 3 * * 0"',
    );
  }
  const stop = stopOnSignals(io.onSignal, log, () => false);
  try {
    await drillOnSchedule(settings, dest, {
      clock: { now: io.now, sleep: systemClock.sleep },
      log,
      pid: io.pid,
      stop: stop.signal,
      turns: new Turns(),
    });
  } finally {
    stop.dispose();
  }
  log.info("scheduled drills stopped");
  return EXIT.ok;
}

/** An archive named (or the newest) under DEST. */
export async function archiveSource(
  dest: string,
  name: string,
  identities: string[] | undefined,
): Promise<DrillSource> {
  const file = await locate(dest, name);
  const shown = file.startsWith(`${dest}/`) ? file.slice(dest.length + 1) : resolve(file);
  return { file, shown, ...(identities ? { identities } : {}) };
}

/** The base and the WAL of a point-in-time recovery from DEST, planned and checked first. */
export async function recoverySource(
  ctx: CommandContext,
  dest: string,
  when: string,
  identities: string[] | undefined,
): Promise<DrillSource> {
  const target = parseTargetTime(when, ctx.settings.tz, "--to-time");
  const local = localStore(dest);
  const store = local.wal();
  const catalog = await readWalCatalog(store);
  const plan = await planRecovery(catalog, target, {
    store,
    archives: new Set((await local.list()).map((a) => a.path)),
    identities: identities ?? [],
    now: ctx.now(),
    timeZone: ctx.settings.tz,
  });
  return {
    file: `${dest}/${plan.base.archive}`,
    shown: `${plan.base.archive} to ${when}`,
    ...(identities ? { identities } : {}),
    recovery: { plan, store, segmentBytes: catalog.segmentBytes },
  };
}

/** The report as lines: the result, each step's time, the RTO, sizes, each check. */
export function reportText(report: DrillReport): string {
  const s = report.seconds;
  const lines = [
    `drill ${report.result.toUpperCase()}: ${report.archive}`,
    `  restore ${s.restore} s, pg_verifybackup ${
      s.verify !== undefined ? `${s.verify} s` : report.verifySkipped ? "skipped" : "-"
    }, start and recovery ${s.start} s, pg_amcheck ${s.amcheck ?? "-"} s, checks ${
      s.checks ?? "-"
    } s`,
    ...(report.rtoSeconds !== undefined
      ? [`  RTO ${report.rtoSeconds} s (restore, start and recovery)`]
      : []),
    `  archive ${report.bytes.archive} bytes, restored ${report.bytes.restored ?? "-"} bytes`,
    ...report.checks.map((c) =>
      `  check ${c.ok ? "OK" : "FAILED"}: ${c.sql} -> ${c.answer} (in database ${c.database})`
    ),
    ...(report.verifySkipped ? [`  pg_verifybackup skipped: ${report.verifySkipped}`] : []),
    ...(report.problem ? [`  problem: ${report.problem}`] : []),
  ];
  return `${lines.join("\n")}\n`;
}
