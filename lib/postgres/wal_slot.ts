// What WAL archiving asks the server over its plain SQL session (README: Point-in-time
// recovery): where the WAL is flushed to and on which timeline, and the permanent physical
// replication slot that holds the WAL backupd has not stored yet.

import { RunError } from "../base/errors.ts";
import { formatLsn, parseLsn, parseSegmentName } from "../store/wal_names.ts";
import { isPrivilegeError, PRIVILEGES, reason } from "./pg_errors.ts";
import type { Query } from "./backup_session.ts";

/** Where the server's WAL stands. */
export interface WalPosition {
  /** Everything before this LSN is on the server's disk. */
  flush: bigint;
  /** Where the server inserts next (flush plus what is still in its buffers). */
  insert: bigint;
  /** The timeline it writes. */
  timeline: number;
  /** Its WAL segment size. */
  segmentBytes: number;
  /** Its system identifier. */
  systemIdentifier: string;
  /** Whether it is a standby in recovery (nothing to archive from there). */
  standby: boolean;
}

/**
 * Reads where the server's WAL stands.
 *
 * @example
 * ```ts ignore
 * const { flush, timeline } = await walPosition(query);
 * ```
 */
export async function walPosition(query: Query): Promise<WalPosition> {
  const [row] = await query<
    {
      flush: string;
      insert: string;
      file: string;
      segment: string;
      system: string;
      standby: boolean;
    }[]
  >`
    SELECT pg_current_wal_flush_lsn()::text AS flush,
           pg_current_wal_insert_lsn()::text AS insert,
           pg_walfile_name(pg_current_wal_flush_lsn()) AS file,
           (SELECT setting FROM pg_settings WHERE name = 'wal_segment_size') AS segment,
           (SELECT system_identifier::text FROM pg_control_system()) AS system,
           pg_is_in_recovery() AS standby`;
  if (!row) throw new RunError("Cannot read where the server's WAL stands");
  const segmentBytes = Number(row.segment);
  const id = parseSegmentName(row.file, segmentBytes);
  if (!id) throw new RunError(`Cannot read the server's WAL file name "${row.file}"`);
  return {
    flush: parseLsn(row.flush),
    insert: parseLsn(row.insert),
    timeline: id.timeline,
    segmentBytes,
    systemIdentifier: row.system,
    standby: row.standby,
  };
}

/** A physical replication slot as the server shows it. */
export interface SlotState {
  /** The oldest WAL it holds; none when it holds none (lost, or never reserved). */
  restart?: bigint;
  /** `reserved`, `extended`, `unreserved` or `lost` (pg_replication_slots.wal_status). */
  walStatus: string;
}

/**
 * The slot `name`; `undefined` when the server has none of that name.
 *
 * @example
 * ```ts ignore
 * const slot = await slotState(query, "backupd");
 * ```
 */
export async function slotState(query: Query, name: string): Promise<SlotState | undefined> {
  const [row] = await query<{ restart: string | null; status: string | null; type: string }[]>`
    SELECT restart_lsn::text AS restart, wal_status AS status, slot_type AS type
      FROM pg_replication_slots WHERE slot_name = ${name}`;
  if (!row) return undefined;
  if (row.type !== "physical") {
    throw new RunError(
      `Cannot archive WAL through the replication slot "${name}": it is a ${row.type} slot; give --wal-slot another name`,
    );
  }
  return {
    ...(row.restart ? { restart: parseLsn(row.restart) } : {}),
    walStatus: row.status ?? "lost",
  };
}

/**
 * Creates the permanent physical slot `name`, reserving the WAL from now on.
 *
 * @example
 * ```ts ignore
 * await createSlot(query, "backupd", "127.0.0.1:5432/postgres as backupd");
 * ```
 */
export async function createSlot(query: Query, name: string, server: string): Promise<void> {
  try {
    await query`SELECT pg_create_physical_replication_slot(${name}, true, false)`;
  } catch (err) {
    const hint = isPrivilegeError(err) ? `; ${PRIVILEGES}` : "";
    throw new RunError(
      `Cannot create the replication slot "${name}" at ${server}: ${reason(err)}${hint}`,
      { cause: err },
    );
  }
}

/**
 * Drops the slot `name`; true when there was one.
 *
 * @example
 * ```ts ignore
 * await dropSlot(query, "backupd");
 * ```
 */
export async function dropSlot(query: Query, name: string): Promise<boolean> {
  const [row] = await query<{ dropped: boolean }[]>`
    SELECT count(pg_drop_replication_slot(slot_name)) > 0 AS dropped
      FROM pg_replication_slots WHERE slot_name = ${name}`;
  return row?.dropped ?? false;
}

/**
 * Moves the slot forward to `lsn`: the server may then remove the WAL before it. The server
 * caps the move at its flush LSN.
 *
 * @example
 * ```ts ignore
 * await advanceSlot(query, "backupd", 0x4000000n);
 * ```
 */
export async function advanceSlot(query: Query, name: string, lsn: bigint): Promise<void> {
  await query`SELECT pg_replication_slot_advance(${name}, ${formatLsn(lsn)}::pg_lsn)`;
}

/**
 * The server's `max_slot_wal_keep_size` in bytes: how much WAL a slot may hold before the
 * server drops it; `null` for -1, no limit (a stopped archiver then fills the server's disk).
 *
 * @example
 * ```ts ignore
 * const limit = await slotWalLimit(query);
 * ```
 */
export async function slotWalLimit(query: Query): Promise<number | null> {
  const [row] = await query<{ mb: string }[]>`
    SELECT setting AS mb FROM pg_settings WHERE name = 'max_slot_wal_keep_size'`;
  const mb = Number(row?.mb ?? -1);
  return mb < 0 ? null : mb * 1024 * 1024;
}
