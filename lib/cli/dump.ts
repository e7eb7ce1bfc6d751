// `backupd dump [latest|ARCHIVE|s3://BUCKET/PREFIX] [--to-time T] --to FILE|- | --into`
// (README: Get one table back): a database, tables, schemas, every database or the roles of
// an archive or a moment, dumped from a scratch PostgreSQL with pg_dump into a file, stdout,
// or beside the live data; exit 0 done, 1 a problem in the backup, 2 it could not run.

import { resolve } from "node:path";
import { EXIT, STOP_CODES, UsageError } from "../base/errors.ts";
import { stopOnSignals } from "../daemon/stop_signals.ts";
import { type DumpReport, type DumpRequest, type DumpSource, runDump } from "../dump/dump.ts";
import { readWalCatalog } from "../postgres/wal_catalog.ts";
import { planRecovery } from "../postgres/pitr.ts";
import { BUCKET_SETTINGS, type Command, type CommandContext } from "./command.ts";
import { archiveSource, recoverySource } from "./drill.ts";
import { bucketAt, parseTargetTime } from "./restore.ts";
import { downloadArchive, existingDest, identitiesOf, LATEST } from "./find_archive.ts";

/** `backupd dump`. */
export const dumpCommand: Command = {
  name: "dump",
  description:
    "dump a database, tables or schemas of an archive or a moment (pg_dump from a scratch server)",
  settings: [
    "dest",
    "tz",
    "logFormat",
    "drillDir",
    "pgBin",
    "postgres",
    "ageIdentity",
    ...BUCKET_SETTINGS,
  ],
  operands: {
    spec: "[archive]",
    help: "latest (the default), a path or a name relative to DEST, or s3://BUCKET/PREFIX",
  },
  options: {
    to: { flag: "--to <file>", help: "the dump's file, or - for stdout (plain)" },
    into: {
      flag: "--into",
      help:
        "load it into the server of --postgres beside what is there: tables into a new schema restored_YYYYMMDD_HHMMSS, a database as DB_restored_YYYYMMDD_HHMMSS",
    },
    toTime: {
      flag: "--to-time <time>",
      help:
        'the moment: "YYYY-MM-DD HH:MM:SS" (in TZ), ISO 8601 with an offset, latest, or before-xid:N',
    },
    database: {
      flag: "--database <name>",
      help: "the database (default: the one of --postgres, else postgres); repeatable (plain)",
      repeatable: true,
    },
    table: {
      flag: "--table <[schema.]table>",
      help: "only this table; repeatable",
      repeatable: true,
    },
    schema: { flag: "--schema <schema>", help: "only this schema; repeatable", repeatable: true },
    allDatabases: { flag: "--all-databases", help: "every database (pg_dumpall, plain)" },
    globals: { flag: "--globals", help: "roles and tablespaces only (pg_dumpall --globals-only)" },
    format: {
      flag: "--format <format>",
      help: "custom (pg_restore reads it; the default for a file) or plain (the default for -)",
    },
    json: { flag: "--json", help: "print the report as one JSON object" },
  },
  run: dump,
};

async function dump(ctx: CommandContext): Promise<number> {
  const { settings, log, io } = ctx;
  const request = dumpRequest(ctx);
  const { identities } = await identitiesOf(settings);
  const operand = ctx.operands[0] ?? LATEST;
  const bucket = operand.startsWith("s3://");
  const download = bucket
    ? await Deno.makeTempDir({ dir: settings.drillDir, prefix: ".backupd-dump-download-" })
    : undefined;
  const stop = stopOnSignals(io.onSignal, log, () => true);
  let report: DumpReport;
  try {
    const source = download
      ? await bucketSource(ctx, operand, identities, download)
      : ctx.options.toTime === undefined
      ? await archiveSource(await existingDest(settings, "dump"), operand, identities)
      : await recoverySource(
        ctx,
        await existingDest(settings, "dump"),
        String(ctx.options.toTime),
        identities,
      );
    report = await runDump(settings, source, request, {
      log,
      now: ctx.now,
      isRoot: ctx.isRoot,
      signal: stop.signal,
      stdout: ctx.stdout,
    });
  } finally {
    stop.dispose();
    if (download) await Deno.remove(download, { recursive: true });
  }
  if (request.to !== "-") {
    ctx.stdout(ctx.options.json ? `${JSON.stringify(report)}\n` : reportText(report));
  }
  const stoppedBy = stop.stoppedBy();
  if (stoppedBy) return STOP_CODES[stoppedBy];
  if (report.result === "passed") return EXIT.ok;
  log.error(report.result === "failed" ? "dump failed" : "dump could not run", {
    error: report.problem,
  });
  return report.result === "failed" ? 1 : EXIT.failed;
}

/**
 * The archive of `s3://BUCKET/PREFIX` to dump, downloaded into `dir`: the base and WAL of a
 * moment planned from the bucket alone, or its newest archive.
 */
async function bucketSource(
  ctx: CommandContext,
  url: string,
  identities: string[] | undefined,
  dir: string,
): Promise<DumpSource> {
  const remote = await bucketAt(ctx.settings, url);
  const archives = await remote.list();
  let path = archives.at(-1)?.path;
  let recovery: DumpSource["recovery"];
  if (ctx.options.toTime !== undefined) {
    const target = parseTargetTime(String(ctx.options.toTime), ctx.settings.tz, "--to-time");
    const catalog = await readWalCatalog(remote.wal());
    const plan = await planRecovery(catalog, target, {
      store: remote.wal(),
      archives: new Set(archives.map((a) => a.path)),
      identities: identities ?? [],
      now: ctx.now(),
      timeZone: ctx.settings.tz,
    });
    path = plan.base.archive;
    recovery = { plan, store: remote.wal(), segmentBytes: catalog.segmentBytes };
  }
  if (path === undefined) throw new UsageError(`Cannot dump from ${url}: it holds no archive`);
  const { file, sha256 } = await downloadArchive(remote, path, dir);
  ctx.log.info("download done", { archive: remote.url(path) });
  return {
    file,
    shown: remote.url(path),
    sha256,
    ...(identities ? { identities } : {}),
    ...(recovery ? { recovery } : {}),
  };
}

/** The options as a request, their combinations checked (exit 2, one line, nothing run). */
function dumpRequest(ctx: CommandContext): DumpRequest {
  const list = (key: string) => (ctx.options[key] ?? []) as string[];
  const to = String(ctx.options.to ?? "");
  const into = ctx.options.into === true;
  const format = String(ctx.options.format ?? (to === "-" ? "plain" : "custom"));
  if (format !== "custom" && format !== "plain") {
    throw new UsageError(`Cannot dump as "${format}": give --format custom or plain`);
  }
  const allDatabases = ctx.options.allDatabases === true;
  const globals = ctx.options.globals === true;
  const given = list("database");
  const databases = given.length > 0 ? given : [ctx.settings.drillDatabase];
  if (to === "" && !into) {
    throw new UsageError("Cannot dump: give --to FILE, --to - for stdout, or --into");
  }
  if (into && !ctx.settings.postgres) {
    throw new UsageError(
      "Cannot load the dump: --into loads into the server of --postgres (BACKUP_POSTGRES_URL); give it",
    );
  }
  if (into && (allDatabases || globals || databases.length > 1 || to === "-")) {
    throw new UsageError(
      "Cannot use --into with --all-databases, --globals, several --database or --to -",
    );
  }
  if (to === "-" && format === "custom") {
    throw new UsageError("Cannot dump to stdout as custom: give --format plain or --to FILE");
  }
  if ((allDatabases || globals || databases.length > 1) && format !== "plain") {
    throw new UsageError(
      "Cannot dump several databases or the roles as custom: give --format plain",
    );
  }
  if ((allDatabases || globals) && (list("table").length > 0 || list("schema").length > 0)) {
    throw new UsageError("Cannot use --table or --schema with --all-databases or --globals");
  }
  return {
    to: to === "-" || to === "" ? to : resolve(to),
    ...(into && ctx.settings.postgres
      ? { into: { target: ctx.settings.postgres, moment: momentOf(ctx) } }
      : {}),
    format,
    databases,
    tables: list("table"),
    schemas: list("schema"),
    allDatabases,
    globals,
  };
}

/** The moment restored, for the names of what --into creates: the time asked, else now. */
function momentOf(ctx: CommandContext): number {
  const when = ctx.options.toTime;
  if (when === undefined) return ctx.now();
  const target = parseTargetTime(String(when), ctx.settings.tz, "--to-time");
  return "time" in target ? target.time : ctx.now();
}

/** The report as lines. */
function reportText(report: DumpReport): string {
  const s = report.seconds;
  return [
    `dump ${
      report.result === "passed" ? "WRITTEN" : report.result.toUpperCase()
    }: ${report.archive} -> ${report.to}`,
    `  restore ${s.restore} s, start and recovery ${s.start} s, dump ${s.dump} s, ${report.bytes} bytes${
      report.sha256 ? `, sha256 ${report.sha256}` : ""
    }`,
    ...Object.entries(report.rows).map(([table, rows]) => `  ${table}: ${rows} rows`),
    ...(report.loaded
      ? [
        `  loaded into ${report.loaded.server}: created ${report.loaded.created}${
          report.loaded.tables.length > 0 ? ` (${report.loaded.tables.join(", ")})` : ""
        }`,
        ...report.loaded.leftOut.map((fk) => `  foreign key left out of the copy: ${fk}`),
      ]
      : []),
    ...(report.problem ? [`  problem: ${report.problem}`] : []),
  ].join("\n") + "\n";
}
