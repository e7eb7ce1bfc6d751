// `backupd dump [latest|ARCHIVE] [--to-time T] --to FILE|-` (README: Get one table back): a
// database, tables, schemas, every database or the roles of an archive or a moment, dumped
// from a scratch PostgreSQL with pg_dump; exit 0 written, 1 a problem in the backup, 2 not.

import { resolve } from "node:path";
import { EXIT, STOP_CODES, UsageError } from "../base/errors.ts";
import { stopOnSignals } from "../daemon/stop_signals.ts";
import { type DumpReport, type DumpRequest, runDump } from "../dump/dump.ts";
import type { Command, CommandContext } from "./command.ts";
import { archiveSource, recoverySource } from "./drill.ts";
import { parseTargetTime } from "./restore.ts";
import { existingDest, identitiesOf, LATEST } from "./find_archive.ts";

/** `backupd dump`. */
export const dumpCommand: Command = {
  name: "dump",
  description:
    "dump a database, tables or schemas of an archive or a moment (pg_dump from a scratch server)",
  settings: ["dest", "tz", "logFormat", "drillDir", "pgBin", "postgres", "ageIdentity"],
  operands: { spec: "[archive]", help: "latest (the default), a path or a name relative to DEST" },
  options: {
    to: { flag: "--to <file>", help: "the dump's file, or - for stdout (plain)" },
    into: {
      flag: "--into",
      help:
        "load it into the server of --postgres beside what is there: tables into a new schema restored_YYYYMMDD_HHMMSS, a database as DB_restored_YYYYMMDD_HHMMSS",
    },
    toTime: {
      flag: "--to-time <time>",
      help: 'the moment: "YYYY-MM-DD HH:MM:SS" (in TZ), ISO 8601 with an offset, or latest',
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
  const dest = await existingDest(settings, "dump");
  const { identities } = await identitiesOf(settings);
  const source = ctx.options.toTime === undefined
    ? await archiveSource(dest, ctx.operands[0] ?? LATEST, identities)
    : await recoverySource(ctx, dest, String(ctx.options.toTime), identities);
  const stop = stopOnSignals(io.onSignal, log, () => true);
  const report = await runDump(settings, source, request, {
    log,
    now: ctx.now,
    isRoot: ctx.isRoot,
    signal: stop.signal,
    stdout: ctx.stdout,
  }).finally(() => stop.dispose());
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
