// What of a PostgreSQL data folder goes into a backup: what pg_basebackup leaves out of the
// copy, and the WAL appended after it (README: Consistency).

import { RunError } from "../base/errors.ts";
import type { PackAppender } from "../archive/tar_pack.ts";
import type { EntryLook } from "../archive/tar_headers.ts";

/** Folders whose contents the server rebuilds at start (kept as empty folders). */
const EMPTIED = new Set([
  "pg_stat_tmp",
  "pg_replslot",
  "pg_dynshmem",
  "pg_notify",
  "pg_serial",
  "pg_snapshots",
  "pg_subtrans",
]);

/** Names left out wherever they are. */
const LEFT_OUT = new Set([
  "postgresql.auto.conf.tmp",
  "current_logfiles.tmp",
  "backup_label",
  "tablespace_map",
  "backup_manifest",
  "postmaster.pid",
  "postmaster.opts",
]);

/** A temporary relation's file in a database folder: t<backend>_<relfilenode>[_fork][.segment]. */
const TEMP_RELATION = /^base\/\d+\/t\d+_\d+(?:_[a-z]+)?(?:\.\d+)?$/;

const HISTORY_FILE = /^[0-9A-F]{8}\.history$/;

/**
 * Whether pg_basebackup would leave `rel` (relative to the data folder) out of a backup.
 * `pg_wal` and `global/pg_control` are left out of the walk because the backup adds them
 * at its end.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(leftOutOfBackup("postmaster.pid"), true);
 * // The folder stays, empty:
 * assertEquals(leftOutOfBackup("pg_replslot"), false);
 * assertEquals(leftOutOfBackup("pg_replslot/slot/state"), true);
 * ```
 */
export function leftOutOfBackup(rel: string): boolean {
  const slash = rel.indexOf("/");
  const top = slash < 0 ? rel : rel.slice(0, slash);
  if (top === "pg_wal" || rel === "global/pg_control") return true;
  if (slash >= 0 && EMPTIED.has(top)) return true;
  const name = rel.slice(rel.lastIndexOf("/") + 1);
  return LEFT_OUT.has(name) || name.startsWith("pgsql_tmp") ||
    name.startsWith("pg_internal.init") || TEMP_RELATION.test(rel);
}

/** What to copy of pg_wal once the backup has stopped. */
export interface WalCopy {
  /** SOURCE's pg_wal folder. */
  dir: string;
  /** The segments the backup needs, oldest first. */
  segments: readonly string[];
  /** The size every segment has. */
  segmentBytes: number;
  /** Mode, owner and time of the folders and markers that backupd adds. */
  look: (mode: number) => EntryLook;
}

/**
 * Appends `pg_wal/` with the segments a backup needs, each marked archived so a restored
 * server with archiving on does not send it again, and the timeline history files. A
 * missing or short segment fails the backup, naming it.
 *
 * @example
 * ```ts ignore
 * await appendWal(append, { dir: "/data/pg_wal", segments, segmentBytes: 16777216, look });
 * ```
 */
export async function appendWal(append: PackAppender, wal: WalCopy): Promise<void> {
  await append.folder("pg_wal", wal.look(0o700));
  await append.folder("pg_wal/archive_status", wal.look(0o700));
  const history = [...Deno.readDirSync(wal.dir)].map((e) => e.name)
    .filter((name) => HISTORY_FILE.test(name)).sort();
  for (const name of [...wal.segments, ...history]) {
    const stored = await append.file(`pg_wal/${name}`, `${wal.dir}/${name}`);
    if (stored === undefined) {
      throw new RunError(
        `Cannot copy the WAL segment "pg_wal/${name}": it is not in "${wal.dir}" any more`,
      );
    }
    if (!HISTORY_FILE.test(name) && stored !== wal.segmentBytes) {
      throw new RunError(
        `Cannot copy the WAL segment "pg_wal/${name}": ${stored} bytes, expected ${wal.segmentBytes}`,
      );
    }
    await append.content(`pg_wal/archive_status/${name}.done`, new Uint8Array(0), wal.look(0o600));
  }
}

/**
 * Whether `folder` is a PostgreSQL data folder whose server is running: it has PG_VERSION,
 * and the server's postmaster.pid, which a clean stop removes. (From another container the
 * process cannot be seen: the file is what tells.)
 *
 * @example
 * ```ts ignore
 * if (await runningServerIn("/srv/pgdata")) console.log("live");
 * ```
 */
export async function runningServerIn(folder: string): Promise<boolean> {
  const present = async (name: string) =>
    await Deno.lstat(`${folder}/${name}`).then(() => true, (err) => {
      // Not there, or not ours to read: either way no sign of a running server here.
      if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.PermissionDenied) {
        return false;
      }
      throw err;
    });
  return await present("PG_VERSION") && await present("postmaster.pid");
}
