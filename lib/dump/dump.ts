// `backupd dump` (README: Get one table back): an archive, or a moment, restored into a
// scratch PostgreSQL as a drill does it, then pg_dump (or pg_dumpall) of the same major for
// what was asked: a database, tables, schemas, every database, the roles. The dump is
// written through a hidden partial file with its sha256 sidecar; the scratch folder goes.

import { basename, dirname } from "node:path";
import { createHash } from "node:crypto";
import { describeError, fsReason, RunError, UsageError } from "../base/errors.ts";
import type { Logger } from "../base/log.ts";
import { nearestNames } from "../base/suggest.ts";
import { bootstrapSuperuser } from "../postgres/pg_programs.ts";
import { placeRecovery, type RecoveryPlan } from "../postgres/pitr.ts";
import { WalDamageError } from "../postgres/wal_read.ts";
import { removeIfPresent, syncFolder } from "../store/atomic_file.ts";
import { partialName, sidecarName, sidecarText } from "../store/names.ts";
import type { WalStore } from "../store/wal_store.ts";
import type { Settings } from "../settings/settings.ts";
import { type PgProcess, ScratchProblem } from "../scratch/pg_process.ts";
import { Scratch, type ScratchArchive } from "../scratch/scratch.ts";
import type { PostgresTarget } from "../settings/postgres_settings.ts";
import {
  liveServer,
  loadDump,
  type Loaded,
  moveTables,
  quoteName,
  restoredSuffix,
} from "./load_beside.ts";

/** The programs a dump needs, besides the server's own. */
const DUMP_PROGRAMS = ["postgres", "pg_ctl", "pg_isready", "psql", "pg_dump", "pg_dumpall"];

/** What to dump, and where. */
export interface DumpRequest {
  /** A file, or `-` for stdout (plain format only). */
  to: string;
  /** pg_dump's format: custom (pg_restore reads it) or plain SQL. */
  format: "custom" | "plain";
  /** The databases; one unless plain. */
  databases: string[];
  /** `[SCHEMA.]TABLE`, each of which must exist. */
  tables: string[];
  /** Schemas, each of which must exist. */
  schemas: string[];
  /** Every database (pg_dumpall, plain). */
  allDatabases: boolean;
  /** Roles and tablespaces only (pg_dumpall --globals-only, plain). */
  globals: boolean;
  /** Load it into this live server beside what is there, named for `moment` (Unix ms). */
  into?: { target: PostgresTarget; moment: number };
}

/** The archive to dump from, and for a moment the WAL to replay first. */
export interface DumpSource extends ScratchArchive {
  /** The WAL to put into the restored base (README: Point-in-time recovery). */
  recovery?: { plan: RecoveryPlan; store: WalStore; segmentBytes: number };
}

/** What a dump reports. */
export interface DumpReport {
  /** passed: the dump is written; failed: a problem in the backup; error: it could not run. */
  result: "passed" | "failed" | "error";
  /** The archive, as shown. */
  archive: string;
  /** Where the dump went. */
  to: string;
  /** Seconds per step. */
  seconds: { restore: number; start: number; dump: number };
  /** Bytes of the dump written. */
  bytes: number;
  /** Its sha256 (none for stdout). */
  sha256?: string;
  /** Rows of each table dumped, by `database.schema.table`. */
  rows: Record<string, number>;
  /** What `--into` made on the live server. */
  loaded?: Loaded;
  /** Why it did not pass, in one line. */
  problem?: string;
}

/** What a dump needs from its surroundings. */
export interface DumpDeps {
  /** Where events go: one INFO line per step. */
  log: Logger;
  /** The clock, epoch ms. */
  now: () => number;
  /** SIGTERM or SIGINT: the server is stopped, the scratch folder removed. */
  signal?: AbortSignal;
  /** Whether this process runs as root. */
  isRoot: boolean;
  /** Where `--to -` writes, a piece at a time. */
  stdout: (text: string) => void;
}

/** A selection that names what the restored cluster does not have: exit 2, nothing written. */
export class SelectionError extends UsageError {}

const seconds = (ms: number) => Number((ms / 1000).toFixed(3));

/**
 * Runs one dump; never throws for a dump that fails or cannot run: the report says so.
 *
 * @example
 * ```ts ignore
 * const report = await runDump(settings, source, { to: "employees.dump", format: "custom", databases: ["employees"], tables: ["public.employees"], schemas: [], allDatabases: false, globals: false }, deps);
 * ```
 */
export async function runDump(
  settings: Settings,
  source: DumpSource,
  request: DumpRequest,
  deps: DumpDeps,
): Promise<DumpReport> {
  const report: DumpReport = {
    result: "error",
    archive: source.shown,
    to: request.to,
    seconds: { restore: 0, start: 0, dump: 0 },
    bytes: 0,
    rows: {},
  };
  let scratch: Scratch | undefined;
  try {
    // A folder the dump cannot be written to is said before anything is restored.
    if (request.to !== "" && request.to !== "-") await checkWritable(request.to);
    scratch = await Scratch.open(settings.drillDir, (await Deno.stat(source.file)).size, deps);
    deps.log.info("dump started", { archive: source.shown, scratch: scratch.path });
    const server = await restoreAndStart(settings, source, scratch, report, deps);
    const user = await bootstrapSuperuser(scratch.data) ?? "postgres";
    const tables = await checkSelection(server, user, request);
    for (const [db, table] of tables) {
      const [row] = await server.query(user, db, `SELECT count(*) FROM ${quoteName(table)}`);
      report.rows[`${db}.${table}`] = Number(row?.[0]);
    }
    const t = deps.now();
    const { file, into } = request.into
      ? await dumpBeside(server, user, request, tables.map(([, table]) => table), settings, deps)
      : { file: await dumpInto(server, user, request), into: undefined };
    report.seconds.dump = seconds(deps.now() - t);
    if (request.to !== "") await deliver(file, request.to, report, deps);
    if (into) {
      await loadDump(server, into.live, file, into.database);
      report.loaded = into.loaded;
      deps.log.info("dump loaded beside the live data", {
        server: into.loaded.server,
        created: into.loaded.created,
        tables: into.loaded.tables.join(","),
      });
    }
    deps.log.info("dump done", {
      to: request.to || "-",
      bytes: report.bytes,
      seconds: report.seconds.dump,
      ...(report.sha256 ? { sha256: report.sha256 } : {}),
    });
    report.result = "passed";
  } catch (err) {
    report.problem = describeError(deps.signal?.aborted ? deps.signal.reason : err);
    const problem = err instanceof ScratchProblem || err instanceof WalDamageError;
    report.result = problem && !deps.signal?.aborted ? "failed" : "error";
  } finally {
    await scratch?.close();
  }
  return report;
}

/** The restore, the WAL for a moment, the start: each timed into the report. */
async function restoreAndStart(
  settings: Settings,
  source: DumpSource,
  scratch: Scratch,
  report: DumpReport,
  deps: DumpDeps,
): Promise<PgProcess> {
  let t = deps.now();
  await scratch.restore(source);
  const server = await scratch.server(settings.pgBin, DUMP_PROGRAMS);
  if (source.recovery) {
    const { plan, store, segmentBytes } = source.recovery;
    await placeRecovery(plan, scratch.data, {
      store,
      identities: source.identities ?? [],
      segmentBytes,
      timeZone: settings.tz,
    });
  }
  report.seconds.restore = seconds(deps.now() - t);
  deps.log.info("dump: restored", { seconds: report.seconds.restore });
  t = deps.now();
  await server.start();
  report.seconds.start = seconds(deps.now() - t);
  deps.log.info("dump: started and recovered", { seconds: report.seconds.start });
  return server;
}

/**
 * Checks that every database, schema and table asked for exists in the restored cluster;
 * a missing one is a {@linkcode SelectionError} naming it and the nearest names there.
 * Returns the tables dumped, as `[database, schema.table]`.
 */
async function checkSelection(
  server: PgProcess,
  user: string,
  request: DumpRequest,
): Promise<[string, string][]> {
  if (request.globals && !request.allDatabases) return [];
  const databases = (await server.query(
    user,
    "postgres",
    "SELECT datname FROM pg_database WHERE datallowconn ORDER BY 1",
  )).map((r) => r[0] as string);
  const wanted = request.allDatabases ? databases : request.databases;
  for (const db of wanted) missing("database", db, databases);
  const out: [string, string][] = [];
  for (const db of wanted) {
    const tables = (await server.query(
      user,
      db,
      "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1",
    )).map((r) => r[0] as string);
    const schemas = [...new Set(tables.map((t) => t.split(".")[0] as string))];
    for (const schema of request.schemas) missing("schema", schema, schemas, db);
    const named = request.tables.map((t) => (t.includes(".") ? t : `public.${t}`));
    for (const table of named) missing("table", table, tables, db);
    const picked = named.length > 0 || request.schemas.length > 0
      ? tables.filter((t) =>
        named.includes(t) || request.schemas.includes(t.split(".")[0] as string)
      )
      : tables;
    out.push(...picked.map((t): [string, string] => [db, t]));
  }
  return out;
}

/** Throws when `name` is not among `names`, naming the nearest. */
function missing(kind: string, name: string, names: readonly string[], db?: string): void {
  if (names.includes(name)) return;
  const near = nearestNames(name, names);
  throw new SelectionError(
    `Cannot dump the ${kind} "${name}": ${
      db ? `database "${db}" of ` : ""
    }the restored cluster has none${near.length > 0 ? `; nearest: ${near.join(", ")}` : ""}`,
  );
}

/**
 * For `--into`: tables (with --table or --schema) moved into the new schema inside the
 * scratch server and that schema dumped; else the database dumped whole, for a new
 * database beside the live one. Custom format, which pg_restore loads in one transaction.
 */
async function dumpBeside(
  server: PgProcess,
  user: string,
  request: DumpRequest,
  tables: readonly string[],
  settings: Settings,
  deps: DumpDeps,
) {
  const into = request.into as NonNullable<DumpRequest["into"]>;
  const live = await liveServer(server, into.target, deps.log);
  const suffix = restoredSuffix(into.moment, settings.tz);
  const db = request.databases[0] as string;
  const custom = { ...request, format: "custom" as const };
  if (request.tables.length === 0 && request.schemas.length === 0) {
    const database = `${db}_restored_${suffix}`;
    const file = await dumpInto(server, user, custom);
    const loaded = { server: live.shown, created: `database ${database}`, tables: [], leftOut: [] };
    return { file, into: { live, database, loaded } };
  }
  const schema = `restored_${suffix}`;
  const leftOut = await moveTables(server, user, db, tables, schema, live);
  const file = await dumpInto(server, user, { ...custom, tables: [], schemas: [schema] });
  const moved = tables.map((t) => `${schema}.${t.split(".")[1]}`);
  const loaded: Loaded = {
    server: live.shown,
    created: `schema ${schema} in database ${live.database}`,
    tables: moved,
    leftOut,
  };
  return { file, into: { live, database: undefined, loaded } };
}

/** Runs pg_dump (or pg_dumpall) into the server's output folder; the file written. */
async function dumpInto(server: PgProcess, user: string, request: DumpRequest): Promise<string> {
  const file = `${server.outputs}/dump.out`;
  if (request.allDatabases || request.globals) {
    await server.runProgram("pg_dumpall", user, [
      ...(request.allDatabases ? [] : ["--globals-only"]),
      "-f",
      file,
    ]);
    return file;
  }
  const selection = [
    ...request.tables.flatMap((t) => ["--table", quoteName(t.includes(".") ? t : `public.${t}`)]),
    ...request.schemas.flatMap((s) => ["--schema", quoteName(s)]),
  ];
  if (request.databases.length === 1) {
    await server.runProgram("pg_dump", user, [
      "-d",
      request.databases[0] as string,
      "--format",
      request.format,
      "--strict-names",
      ...selection,
      "-f",
      file,
    ]);
    return file;
  }
  // Several databases, plain: each with its CREATE DATABASE and \connect, one after another.
  const parts: string[] = [];
  for (const [i, db] of request.databases.entries()) {
    const part = `${server.outputs}/dump.${i}.out`;
    await server.runProgram("pg_dump", user, [
      "-d",
      db,
      "--format",
      "plain",
      "--create",
      "--strict-names",
      ...selection,
      "-f",
      part,
    ]);
    parts.push(part);
  }
  using out = await Deno.open(file, { write: true, create: true, truncate: true });
  for (const part of parts) {
    using input = await Deno.open(part);
    await input.readable.pipeTo(out.writable, { preventClose: true });
  }
  return file;
}

/** Whether FILE's folder takes the hidden partial file the dump is written through. */
async function checkWritable(to: string): Promise<void> {
  const probe = `${dirname(to)}/${partialName(basename(to))}`;
  try {
    await Deno.writeFile(probe, new Uint8Array(0), { mode: 0o600 });
  } catch (err) {
    throw new RunError(`Cannot write the dump "${to}": ${fsReason(err, dirname(to))}`, {
      cause: err,
    });
  }
  await removeIfPresent(probe);
}

/** The dump to stdout, or to FILE through a hidden partial with its sidecar written first. */
async function deliver(file: string, to: string, report: DumpReport, deps: DumpDeps) {
  if (to === "-") {
    const decoder = new TextDecoder();
    using input = await Deno.open(file);
    for await (const chunk of input.readable) {
      report.bytes += chunk.length;
      deps.stdout(decoder.decode(chunk, { stream: true }));
    }
    deps.stdout(decoder.decode());
    return;
  }
  const dir = dirname(to);
  const name = basename(to);
  const hidden = `${dir}/${partialName(name)}`;
  const hiddenSidecar = `${dir}/${partialName(sidecarName(name))}`;
  try {
    const hash = createHash("sha256");
    {
      using input = await Deno.open(file);
      using output = await Deno.open(hidden, {
        write: true,
        create: true,
        truncate: true,
        mode: 0o600,
      });
      for await (const chunk of input.readable) {
        hash.update(chunk);
        report.bytes += chunk.length;
        let rest = chunk;
        while (rest.length > 0) rest = rest.subarray(await output.write(rest));
      }
      await output.sync();
    }
    report.sha256 = hash.digest("hex");
    await Deno.writeTextFile(hiddenSidecar, sidecarText(report.sha256, name), { mode: 0o644 });
    await Deno.rename(hiddenSidecar, `${dir}/${sidecarName(name)}`);
    await Deno.rename(hidden, to);
    await syncFolder(dir);
  } catch (err) {
    await removeIfPresent(hidden);
    await removeIfPresent(hiddenSidecar);
    throw err;
  }
}
