// PostgreSQL's terms for a base backup as plain data: LSNs, WAL segment names, the backup
// label's facts and the backup_manifest that pg_verifybackup checks (README: Consistency).

import { createHash } from "node:crypto";
import {
  checkSegmentBytes,
  formatLsn,
  parseLsn,
  segmentName,
  segnoOf,
} from "../store/wal_names.ts";

/**
 * The names of the WAL segments a backup needs: from the one holding `start` to the one
 * holding the last byte before `stop`, on timeline `timeline`.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(
 *   walSegmentNames(1, 0x2000028n, 0x3000000n, 16 * 1024 * 1024),
 *   ["000000010000000000000002"],
 * );
 * ```
 */
export function walSegmentNames(
  timeline: number,
  start: bigint,
  stop: bigint,
  segmentBytes: number,
): string[] {
  checkSegmentBytes(segmentBytes);
  if (stop <= start) {
    throw new RangeError(`Cannot list WAL from "${formatLsn(start)}" to "${formatLsn(stop)}"`);
  }
  const names: string[] = [];
  for (let seg = segnoOf(start, segmentBytes); seg <= segnoOf(stop - 1n, segmentBytes); seg++) {
    names.push(segmentName(timeline, seg, segmentBytes));
  }
  return names;
}

/** What a backup label says of where the backup starts. */
export interface LabelFacts {
  /** START WAL LOCATION. */
  start: bigint;
  /** START TIMELINE. */
  timeline: number;
}

/**
 * Reads the start location and timeline out of a backup_label.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(
 *   parseBackupLabel("START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\nSTART TIMELINE: 1\n"),
 *   { start: 0x2000028n, timeline: 1 },
 * );
 * ```
 */
export function parseBackupLabel(label: string): LabelFacts {
  const start = /^START WAL LOCATION: (\S+)/m.exec(label)?.[1];
  const timeline = /^START TIMELINE: (\d+)$/m.exec(label)?.[1];
  if (start === undefined || timeline === undefined) {
    throw new TypeError("Cannot read the backup label: no START WAL LOCATION or START TIMELINE");
  }
  return { start: parseLsn(start), timeline: Number(timeline) };
}

/** One file of the backup as stored in the archive. */
export interface ManifestFile {
  /** Path relative to the data folder, `/`-separated. */
  path: string;
  /** Bytes stored. */
  size: number;
  /** Modification time, epoch milliseconds. */
  mtimeMs: number;
  /** sha256 of the bytes stored, hex. */
  sha256: string;
}

/** What the manifest says of the WAL the backup needs. */
export interface ManifestWal {
  /** The timeline the backup ran on. */
  timeline: number;
  /** The backup's start LSN. */
  start: bigint;
  /** The backup's end LSN. */
  end: bigint;
}

/** Options of {@linkcode backupManifest}. */
export interface ManifestOptions {
  /** The server's major version: 17 and later write version 2, with the system identifier. */
  serverMajor: number;
  /** The cluster's system identifier, for version 2. */
  systemIdentifier: string;
}

function lastModified(mtimeMs: number): string {
  const iso = new Date(Math.floor(mtimeMs / 1000) * 1000).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} GMT`;
}

/**
 * The backup_manifest of a backup, in PostgreSQL's format: the files with size, time and
 * SHA256 checksum, the WAL range, and the manifest's own SHA256 over all that precedes it.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * const text = backupManifest(
 *   [{ path: "PG_VERSION", size: 3, mtimeMs: 0, sha256: "ab".repeat(32) }],
 *   { timeline: 1, start: 0x2000028n, end: 0x2000100n },
 *   { serverMajor: 15, systemIdentifier: "7713752329763326377" },
 * );
 * assertEquals(JSON.parse(text)["WAL-Ranges"][0]["Start-LSN"], "0/2000028");
 * ```
 */
export function backupManifest(
  files: readonly ManifestFile[],
  wal: ManifestWal,
  options: ManifestOptions,
): string {
  const head = options.serverMajor >= 17
    ? `{ "PostgreSQL-Backup-Manifest-Version": 2,\n"System-Identifier": ${options.systemIdentifier},\n`
    : `{ "PostgreSQL-Backup-Manifest-Version": 1,\n`;
  const lines = files.map((f) =>
    `{ "Path": ${JSON.stringify(f.path)}, "Size": ${f.size}, "Last-Modified": "${
      lastModified(f.mtimeMs)
    }", "Checksum-Algorithm": "SHA256", "Checksum": "${f.sha256}" }`
  );
  const body = `${head}"Files": [\n${lines.join(",\n")}\n],\n` +
    `"WAL-Ranges": [\n{ "Timeline": ${wal.timeline}, "Start-LSN": "${
      formatLsn(wal.start)
    }", "End-LSN": "${formatLsn(wal.end)}" }\n],\n`;
  const checksum = createHash("sha256").update(body).digest("hex");
  return `${body}"Manifest-Checksum": "${checksum}"}\n`;
}
