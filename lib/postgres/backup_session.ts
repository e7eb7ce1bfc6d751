// Online backups through PostgreSQL's own backup API (README: Consistency): one SQL session
// holds a temporary replication slot and the backup open while SOURCE is copied.

import postgres from "postgres";
import { RunError } from "../base/errors.ts";
import type { Logger } from "../base/log.ts";
import {
  backupManifest,
  type ManifestFile,
  parseBackupLabel,
  walSegmentNames,
} from "./manifest.ts";
import { formatLsn, parseLsn } from "../store/wal_names.ts";
import { baseRecordName, formatBaseRecord } from "./base_record.ts";
import type { PostgresTarget } from "../settings/settings.ts";
import type { PackAppender, StoredFile } from "../archive/tar_pack.ts";
import type { EntryLook } from "../archive/tar_headers.ts";
import { appendWal, leftOutOfBackup } from "./layout.ts";
import { describeServer, isAuthError, isPrivilegeError, PRIVILEGES, reason } from "./pg_errors.ts";
import { driverAddress, endpointOf, findPassword, noPasswordHint } from "./connection.ts";

/** Options of {@linkcode startOnlineBackup}. */
export interface OnlineBackupOptions {
  /** The backup's label, shown by the server and kept in backup_label. */
  label: string;
  /** Where events go. */
  log: Logger;
  /** The clock, for the times of the files backupd writes into the archive. */
  now: () => number;
  /** Distinguishes this run's replication slot from another's. @default {Deno.pid} */
  pid?: number;
  /** The archive being written, relative to DEST, for the base backup's record. */
  archive?: string;
}

/** A backup the server has started; the archive step copies SOURCE, then finishes it. */
export interface OnlineBackup {
  /** True for paths relative to SOURCE that the copy leaves out, as pg_basebackup does. */
  exclude(rel: string): boolean;
  /** Aborted, with the reason, when the session is lost: the backup is void then. */
  signal: AbortSignal;
  /** Records a stored file for the backup manifest. */
  onStored(file: StoredFile): void;
  /** pg_control, then pg_backup_stop, the WAL, backup_label, tablespace_map, backup_manifest. */
  finish(append: PackAppender): Promise<void>;
  /** Ends the session; a backup still open is abandoned by the server, its slot dropped. */
  close(): Promise<void>;
  /** Once finished: the base backup's record for DEST/wal/, its name and text. */
  record(): { name: string; text: string } | undefined;
}

/** The first server version whose non-exclusive backup API backupd speaks. */
const OLDEST = 120000;

/** The system identifier in a data folder's global/pg_control (its first 8 bytes). */
async function folderSystemIdentifier(source: string): Promise<string> {
  const path = `${source}/global/pg_control`;
  let bytes: Uint8Array;
  try {
    using file = await Deno.open(path);
    bytes = new Uint8Array(8);
    if ((await file.read(bytes)) !== 8) throw new RunError(`"${path}" is too short`);
  } catch (err) {
    if (err instanceof RunError) throw err;
    const detail = err instanceof Deno.errors.NotFound
      ? "it is not a PostgreSQL data folder (no global/pg_control)"
      : reason(err);
    throw new RunError(`Cannot back up "${source}" through PostgreSQL: ${detail}`, { cause: err });
  }
  return new DataView(bytes.buffer).getBigUint64(0, true).toString();
}

/**
 * Connects, checks that SOURCE is this server's data folder, reserves WAL with a
 * temporary replication slot and starts a non-exclusive backup with a fast checkpoint.
 *
 * @example
 * ```ts ignore
 * const backup = await startOnlineBackup({ url: "postgres://postgres@db/postgres" }, "/data", {
 *   label: "backupd 2027-01-02/01-00-00.tar.gz",
 *   log,
 *   now: Date.now,
 * });
 * ```
 */
export async function startOnlineBackup(
  target: PostgresTarget,
  source: string,
  options: OnlineBackupOptions,
): Promise<OnlineBackup> {
  const lost = new AbortController();
  const session = await openSession(target, options.log, () =>
    lost.abort(
      new RunError(
        `Cannot finish the PostgreSQL backup: the connection to ${session.server} was lost`,
      ),
    ));
  const { sql, server, noPassword, close } = session;
  try {
    return await begin(sql, { ...options, server, source, signal: lost.signal, close, noPassword });
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * Checks what a backup through `target` needs, without starting one: the server answers,
 * is a primary of version 12 or newer whose data folder SOURCE is, and the role has the
 * privileges (README: Consistency). Throws a `RunError` saying what is missing.
 *
 * @example
 * ```ts ignore
 * await checkOnlineBackup({ url: "postgres://backupd@db/postgres" }, "/data", log);
 * ```
 */
export async function checkOnlineBackup(
  target: PostgresTarget,
  source: string,
  log: Logger,
): Promise<void> {
  const { sql, server, noPassword, close } = await openSession(target, log, () => undefined);
  try {
    const facts = await checkServer(sql, {
      label: "",
      log,
      now: Date.now,
      server,
      source,
      noPassword,
      signal: new AbortController().signal,
      close,
    });
    const version = Number(facts.version);
    const [start, stop] = version >= 150000
      ? ["pg_backup_start(text, boolean)", "pg_backup_stop(boolean)"]
      : ["pg_start_backup(text, boolean, boolean)", "pg_stop_backup(boolean, boolean)"];
    const [may] = await sql<{ replication: boolean; start: boolean; stop: boolean }[]>`
      SELECT (SELECT rolsuper OR rolreplication FROM pg_roles WHERE rolname = current_user)
               AS replication,
             has_function_privilege(${start}, 'EXECUTE') AS start,
             has_function_privilege(${stop}, 'EXECUTE') AS stop`;
    if (!may?.replication || !may.start || !may.stop) {
      throw new RunError(`Cannot back up through PostgreSQL at ${server}: ${PRIVILEGES}`);
    }
  } finally {
    await close();
  }
}

/** One SQL session with the server of `target`, and how to end it. */
interface SqlSession {
  sql: postgres.Sql;
  /** The server, for messages. */
  server: string;
  /** What to add when the server refuses a connection that carried no password. */
  noPassword: string;
  close: () => Promise<void>;
}

/** A value a query takes. */
export type SqlValue = string | number | bigint | boolean | null;

/** A tagged-template query on one session: the rows it answers. */
export type Query = <T extends readonly object[]>(
  strings: TemplateStringsArray,
  ...values: SqlValue[]
) => Promise<T>;

/** One SQL session for queries of backupd's own (WAL archiving), and how to end it. */
export interface QuerySession {
  /** Runs a query. */
  query: Query;
  /** The server, for messages. */
  server: string;
  /** Ends the session. */
  close: () => Promise<void>;
}

/**
 * Opens one session as libpq would reach the server, for plain queries; `onLost` hears of
 * its loss.
 *
 * @example
 * ```ts ignore
 * const { query, close } = await openQuerySession({ url: "postgres://backupd@db/postgres" }, log, () => {}, "backupd wal");
 * ```
 */
export async function openQuerySession(
  target: PostgresTarget,
  log: Logger,
  onLost: () => void,
  applicationName: string,
): Promise<QuerySession> {
  const { sql, server, close } = await openSession(target, log, onLost, applicationName);
  const query: Query = <T extends readonly object[]>(
    strings: TemplateStringsArray,
    ...values: SqlValue[]
  ) => sql<T & postgres.Row[]>(strings, ...values as never[]) as unknown as Promise<T>;
  return { query, server, close };
}

/** Opens a session as libpq would reach the server; `onLost` hears of its loss. */
async function openSession(
  target: PostgresTarget,
  log: Logger,
  onLost: () => void,
  applicationName = "backupd",
): Promise<SqlSession> {
  const server = describeServer(target.url);
  let ending = false;
  const endpoint = endpointOf(target.url);
  const { password, source: passwordSource } = await findPassword(target, endpoint, log);
  // The options, not the URL: postgres.js would send ?host= and the like to the server.
  const sql = postgres({
    ...driverAddress(endpoint),
    database: endpoint.database,
    username: endpoint.user,
    // Never the driver's own look at PGPASSWORD: backupd has read what applies.
    password: password ?? "",
    // One session from start to stop: the backup and the slot live and die with it.
    max: 1,
    max_lifetime: 0,
    idle_timeout: 0,
    fetch_types: false,
    connection: { application_name: applicationName },
    // pg_backup_stop notes that WAL archiving is off: expected, backupd copies the WAL itself.
    onnotice: () => undefined,
    onclose: () => {
      if (!ending) onLost();
    },
  });
  return {
    sql,
    server,
    noPassword: noPasswordHint(passwordSource, target.passfile),
    close: async () => {
      ending = true;
      await sql.end({ timeout: 1 });
    },
  };
}

/** What the first query reads of the server. */
interface ServerFacts {
  version: number;
  version_name: string;
  standby: boolean;
  system: string;
  segment: string;
}

/** What pg_backup_stop returns. */
interface StopResult {
  lsn: string;
  labelfile: string;
  spcmapfile: string | null;
}

interface Session extends OnlineBackupOptions {
  server: string;
  /** What to add when the server refuses a connection that carried no password. */
  noPassword: string;
  source: string;
  signal: AbortSignal;
  close: () => Promise<void>;
}

async function begin(sql: postgres.Sql, session: Session): Promise<OnlineBackup> {
  const facts = await checkServer(sql, session);
  const version = Number(facts.version);
  const slot = `backupd_${session.pid ?? Deno.pid}_${crypto.randomUUID().slice(0, 8)}`;
  const start = await startBackup(sql, session, version, slot);
  session.log.info("postgres backup started", {
    server: session.server,
    start_lsn: formatLsn(start),
    slot,
  });
  const files: ManifestFile[] = [];
  let record: { name: string; text: string } | undefined;
  const startedMs = session.now();
  return {
    exclude: leftOutOfBackup,
    signal: session.signal,
    onStored: (file) => {
      // The WAL is checked by pg_verifybackup through the manifest's WAL range, not as files.
      if (!file.rel.startsWith("pg_wal/")) files.push({ ...file, path: file.rel });
    },
    finish: async (append) => {
      const stopped = await finish(sql, append, {
        ...session,
        version,
        systemIdentifier: facts.system,
        start,
        segment: Number(facts.segment),
        files,
      });
      const made = {
        archive: session.archive ?? session.label,
        start,
        stop: stopped.stop,
        timeline: stopped.timeline,
        startedMs,
        stoppedMs: session.now(),
        segmentBytes: Number(facts.segment),
      };
      record = { name: baseRecordName(made), text: formatBaseRecord(stopped.label, made) };
    },
    close: session.close,
    record: () => record,
  };
}

/**
 * The server's facts, once it is known to be a primary of version 12 or newer whose data
 * folder SOURCE is.
 */
async function checkServer(
  sql: postgres.Sql,
  { server, source, noPassword }: Session,
): Promise<ServerFacts> {
  let facts: ServerFacts | undefined;
  try {
    [facts] = await sql<ServerFacts[]>`
      SELECT current_setting('server_version_num')::int AS version,
             current_setting('server_version') AS version_name,
             pg_is_in_recovery() AS standby,
             (SELECT system_identifier::text FROM pg_control_system()) AS system,
             (SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size') AS segment`;
  } catch (err) {
    // Connected, but the role may not read the server's identity (pg_control_system).
    const action = isPrivilegeError(err) ? "check the server" : "connect to PostgreSQL";
    const hint = isPrivilegeError(err) ? `; ${PRIVILEGES}` : isAuthError(err) ? noPassword : "";
    throw new RunError(`Cannot ${action} at ${server}: ${reason(err)}${hint}`, { cause: err });
  }
  if (!facts) throw new RunError(`Cannot read the server's facts at ${server}`);
  if (Number(facts.version) < OLDEST) {
    throw new RunError(
      `Cannot back up through PostgreSQL ${facts.version_name} at ${server}: backupd needs 12 or newer`,
    );
  }
  if (facts.standby) {
    throw new RunError(
      `Cannot back up through PostgreSQL at ${server}: it is a standby in recovery; give the primary`,
    );
  }
  const folderSystem = await folderSystemIdentifier(source);
  if (folderSystem !== facts.system) {
    throw new RunError(
      `Cannot back up "${source}" through PostgreSQL at ${server}: it is another cluster's data folder (system identifier ${folderSystem} in global/pg_control, the server's is ${facts.system})`,
    );
  }
  return facts;
}

/** A temporary slot holding the WAL, and the backup started; its start LSN. */
async function startBackup(
  sql: postgres.Sql,
  session: Session,
  version: number,
  slot: string,
): Promise<bigint> {
  try {
    // A backup may take hours; the server's own time limits must not end it.
    await sql`SET statement_timeout = 0`;
    if (version >= 140000) await sql`SET idle_session_timeout = 0`;
    await sql`SELECT pg_create_physical_replication_slot(${slot}, true, true)`;
    const [started] = version >= 150000
      ? await sql<{ lsn: string }[]>`SELECT pg_backup_start(${session.label}, true)::text AS lsn`
      : await sql<
        { lsn: string }[]
      >`SELECT pg_start_backup(${session.label}, true, false)::text AS lsn`;
    return parseLsn(String(started?.lsn));
  } catch (err) {
    const hint = isPrivilegeError(err) ? `; ${PRIVILEGES}` : "";
    throw new RunError(
      `Cannot start the PostgreSQL backup at ${session.server}: ${reason(err)}${hint}`,
      { cause: err },
    );
  }
}

interface Finishing extends Session {
  version: number;
  systemIdentifier: string;
  start: bigint;
  segment: number;
  files: ManifestFile[];
}

async function finish(
  sql: postgres.Sql,
  append: PackAppender,
  state: Finishing,
): Promise<{ label: string; stop: bigint; timeline: number }> {
  const { source, server, log } = state;
  const sourceInfo = await Deno.stat(source);
  const look = (mode: number): EntryLook => ({
    mode,
    uid: sourceInfo.uid ?? 0,
    gid: sourceInfo.gid ?? 0,
    mtimeMs: state.now(),
  });
  // pg_control last of the data files, as pg_basebackup sends it.
  if (await append.file("global/pg_control", `${source}/global/pg_control`) === undefined) {
    throw new RunError(`Cannot copy "${source}/global/pg_control": it is gone`);
  }
  let stopped: StopResult | undefined;
  try {
    [stopped] = state.version >= 150000
      ? await sql<
        StopResult[]
      >`SELECT lsn::text AS lsn, labelfile, spcmapfile FROM pg_backup_stop(false)`
      : await sql<
        StopResult[]
      >`SELECT lsn::text AS lsn, labelfile, spcmapfile FROM pg_stop_backup(false, false)`;
  } catch (err) {
    throw new RunError(`Cannot stop the PostgreSQL backup at ${server}: ${reason(err)}`, {
      cause: err,
    });
  }
  const label = String(stopped?.labelfile ?? "");
  const tablespaceMap = String(stopped?.spcmapfile ?? "");
  const stop = parseLsn(String(stopped?.lsn));
  const { timeline } = parseBackupLabel(label);
  const segments = walSegmentNames(timeline, state.start, stop, state.segment);
  await appendWal(append, { dir: `${source}/pg_wal`, segments, segmentBytes: state.segment, look });
  const encoder = new TextEncoder();
  await append.content("backup_label", encoder.encode(label), look(0o600));
  if (tablespaceMap !== "") {
    await append.content("tablespace_map", encoder.encode(tablespaceMap), look(0o600));
    log.warn(
      "the cluster has tablespaces outside SOURCE: their folders are not in this archive",
      { tablespaces: tablespaceMap.trim().split("\n").length },
    );
  }
  const manifest = backupManifest(
    state.files,
    { timeline, start: state.start, end: stop },
    { serverMajor: Math.floor(state.version / 10000), systemIdentifier: state.systemIdentifier },
  );
  await append.content("backup_manifest", encoder.encode(manifest), look(0o600));
  log.info("postgres backup stopped", {
    server,
    stop_lsn: String(stopped?.lsn),
    wal_segments: segments.length,
  });
  return { label, stop, timeline };
}
