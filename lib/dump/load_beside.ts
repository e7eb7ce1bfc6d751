// `dump --into` (README: Get one table back): what was dumped is loaded into the live server
// beside what is there, never over it. Tables move, inside the scratch server, into a new
// schema `restored_YYYYMMDD_HHMMSS` before the dump, so the dump holds the new names; a
// database alone becomes `DB_restored_YYYYMMDD_HHMMSS`. One transaction: all or nothing.

import { UsageError } from "../base/errors.ts";
import type { Logger } from "../base/log.ts";
import { endpointOf, findPassword } from "../postgres/connection.ts";
import type { PostgresTarget } from "../settings/postgres_settings.ts";
import { maskPassword } from "../settings/value_checks.ts";
import { type PgProcess, psqlArgs } from "../scratch/pg_process.ts";
import { stampOf } from "../store/names.ts";

/** What was made on the live server. */
export interface Loaded {
  /** The server, its password masked. */
  server: string;
  /** `schema NAME in database DB`, or `database NAME`. */
  created: string;
  /** The tables loaded, by their new names. */
  tables: string[];
  /** Foreign keys to tables that were not dumped: left out of the copy. */
  leftOut: string[];
}

/** A name as SQL quotes it, each part in double quotes. */
export function quoteName(name: string): string {
  return name.split(".").map((part) => `"${part.replaceAll('"', '""')}"`).join(".");
}

const literal = (text: string) => `'${text.replaceAll("'", "''")}'`;

/**
 * The suffix of what is created: the moment restored, `YYYYMMDD_HHMMSS` in `timeZone`.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(restoredSuffix(Date.UTC(2026, 11, 3, 13, 4, 59), "Europe/Berlin"), "20261203_140459");
 * ```
 */
export function restoredSuffix(moment: number, timeZone: string): string {
  const { day, time } = stampOf(moment, timeZone);
  return `${day.replaceAll("-", "")}_${time.replaceAll("-", "")}`;
}

/** The live server as the client programs reach it, with a password file of mode 0600. */
export interface LiveServer {
  /** libpq's connection arguments (host, port, user), the database apart. */
  args: string[];
  /** The database of the URL. */
  database: string;
  /** PGPASSFILE for the programs. */
  env: Record<string, string>;
  /** How it is shown. */
  shown: string;
}

/** Reaches the live server of `target` from the scratch server's programs. */
export async function liveServer(
  server: PgProcess,
  target: PostgresTarget,
  log: Logger,
): Promise<LiveServer> {
  const endpoint = endpointOf(target.url);
  const { password } = await findPassword(target, endpoint, log);
  const escape = (v: string) => v.replaceAll("\\", "\\\\").replaceAll(":", "\\:");
  const passfile = await server.writePrivate(
    "live.pgpass",
    password === undefined ? "" : `*:*:*:${escape(endpoint.user)}:${escape(password)}\n`,
  );
  return {
    args: ["-h", endpoint.host, "-p", String(endpoint.port), "-U", endpoint.user],
    database: endpoint.database,
    env: { PGPASSFILE: passfile },
    shown: maskPassword(target.url),
  };
}

async function liveQuery(server: PgProcess, live: LiveServer, db: string, sql: string) {
  return (await server.runClient("psql", [...live.args, ...psqlArgs(db, sql)], live.env)).trim();
}

/**
 * Moves `tables` (`schema.table`) of `db` into the new schema inside the scratch server and
 * drops their foreign keys to tables that stay behind; refuses (exit 2) a schema of that
 * name on the live server. Returns the foreign keys left out.
 */
export async function moveTables(
  server: PgProcess,
  user: string,
  db: string,
  tables: readonly string[],
  schema: string,
  live: LiveServer,
): Promise<string[]> {
  const taken = await liveQuery(
    server,
    live,
    live.database,
    `SELECT count(*) FROM pg_namespace WHERE nspname = ${literal(schema)}`,
  );
  if (taken !== "0") {
    throw new UsageError(
      `Cannot load into ${live.shown}: the schema "${schema}" exists there already; nothing was loaded`,
    );
  }
  const moved = tables.map((t) => `${literal(quoteName(t))}::regclass`).join(", ");
  const foreign = await server.query(
    user,
    db,
    `SELECT conrelid::regclass::text, conname, confrelid::regclass::text FROM pg_constraint WHERE contype = 'f' AND conrelid IN (${moved}) AND confrelid NOT IN (${moved}) ORDER BY 1, 2`,
  );
  const statements = [
    ...foreign.map(([table, name]) =>
      `ALTER TABLE ${table} DROP CONSTRAINT ${quoteName(name as string)}`
    ),
    `CREATE SCHEMA ${quoteName(schema)}`,
    ...tables.map((t) => `ALTER TABLE ${quoteName(t)} SET SCHEMA ${quoteName(schema)}`),
  ];
  await server.query(user, db, `BEGIN; ${statements.join("; ")}; COMMIT`);
  return foreign.map(([table, name, to]) => `${table}.${name} -> ${to}`);
}

/**
 * Loads the custom-format dump `file` into the live server in one transaction: into the
 * URL's database (a new schema), or into `newDatabase`, created first and dropped again if
 * the load fails.
 */
export async function loadDump(
  server: PgProcess,
  live: LiveServer,
  file: string,
  newDatabase?: string,
): Promise<void> {
  if (newDatabase !== undefined) {
    const taken = await liveQuery(
      server,
      live,
      live.database,
      `SELECT count(*) FROM pg_database WHERE datname = ${literal(newDatabase)}`,
    );
    if (taken !== "0") {
      throw new UsageError(
        `Cannot load into ${live.shown}: the database "${newDatabase}" exists there already; nothing was loaded`,
      );
    }
    await liveQuery(server, live, live.database, `CREATE DATABASE ${quoteName(newDatabase)}`);
  }
  const args = [
    ...live.args,
    "-d",
    newDatabase ?? live.database,
    "--single-transaction",
    "--exit-on-error",
    "--no-owner",
    file,
  ];
  try {
    await server.runClient("pg_restore", args, live.env);
  } catch (err) {
    if (newDatabase !== undefined) {
      await liveQuery(server, live, live.database, `DROP DATABASE ${quoteName(newDatabase)}`);
    }
    throw err;
  }
}
