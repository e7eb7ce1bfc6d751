// A base backup's record in DEST/wal/ (README: Point-in-time recovery): the backup label
// PostgreSQL gave at the stop, with where and when the backup stopped and which archive
// holds it, named as PostgreSQL names its backup history files
// (`<start segment>.<offset>.backup`). Restore picks a base from these; list shows them.

import { backupRecordName, formatLsn, parseLsn, segmentName, segnoOf } from "../store/wal_names.ts";

/** What backupd records of one base backup. */
export interface BaseRecord {
  /** The archive holding it, relative to DEST: `YYYY-MM-DD/HH-MM-SS.tar.gz`. */
  archive: string;
  /** START WAL LOCATION. */
  start: bigint;
  /** STOP WAL LOCATION: recovery is consistent from here on. */
  stop: bigint;
  /** The timeline it was taken on. */
  timeline: number;
  /** When the backup started (the server's START TIME, to the second), Unix ms. */
  startedMs: number;
  /** When pg_backup_stop returned, Unix ms: the earliest time a restore can stop at. */
  stoppedMs: number;
  /** The server's WAL segment size. */
  segmentBytes: number;
}

/**
 * The record's file name in DEST/wal/.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(
 *   baseRecordName({ timeline: 1, start: 0x3000028n, segmentBytes: 16777216 }),
 *   "000000010000000000000003.00000028.backup",
 * );
 * ```
 */
export function baseRecordName(
  record: Pick<BaseRecord, "timeline" | "start" | "segmentBytes">,
): string {
  return backupRecordName(record.timeline, record.start, record.segmentBytes);
}

/**
 * The record's text: the backup label as the server wrote it, then the stop and backupd's
 * own lines.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * const record = {
 *   archive: "2026-12-03/01-00-00.tar.gz",
 *   start: 0x3000028n,
 *   stop: 0x3000100n,
 *   timeline: 1,
 *   startedMs: Date.UTC(2026, 11, 3, 1),
 *   stoppedMs: Date.UTC(2026, 11, 3, 1, 0, 5, 123),
 *   segmentBytes: 16777216,
 * };
 * const label = "START WAL LOCATION: 0/3000028 (file 000000010000000000000003)\nSTART TIME: 2026-12-03 01:00:00 UTC\nSTART TIMELINE: 1\n";
 * assertEquals(parseBaseRecord(formatBaseRecord(label, record)), record);
 * ```
 */
export function formatBaseRecord(label: string, record: BaseRecord): string {
  const stopFile = segmentName(
    record.timeline,
    segnoOf(record.stop, record.segmentBytes),
    record.segmentBytes,
  );
  return [
    label.trimEnd(),
    `STOP WAL LOCATION: ${formatLsn(record.stop)} (file ${stopFile})`,
    `STOP TIME: ${new Date(record.stoppedMs).toISOString()}`,
    `STOP TIMELINE: ${record.timeline}`,
    `BACKUPD ARCHIVE: ${record.archive}`,
    `BACKUPD START TIME: ${new Date(record.startedMs).toISOString()}`,
    `WAL SEGMENT SIZE: ${record.segmentBytes}`,
    "",
  ].join("\n");
}

/**
 * Reads a record back; `undefined` when it is not one backupd wrote.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(parseBaseRecord("START WAL LOCATION: 0/3000028\n"), undefined);
 * ```
 */
export function parseBaseRecord(text: string): BaseRecord | undefined {
  const field = (name: string) =>
    new RegExp(`^${name}: ([^\\n(]+?)(?: \\(.*\\))?$`, "m").exec(text)?.[1];
  const [archive, start, stop, timeline, started, stopped, segment] = [
    "BACKUPD ARCHIVE",
    "START WAL LOCATION",
    "STOP WAL LOCATION",
    "START TIMELINE",
    "BACKUPD START TIME",
    "STOP TIME",
    "WAL SEGMENT SIZE",
  ].map(field);
  if (!archive || !start || !stop || !timeline || !started || !stopped || !segment) {
    return undefined;
  }
  try {
    return {
      archive,
      start: parseLsn(start),
      stop: parseLsn(stop),
      timeline: Number(timeline),
      startedMs: Date.parse(started),
      stoppedMs: Date.parse(stopped),
      segmentBytes: Number(segment),
    };
  } catch {
    return undefined;
  }
}
