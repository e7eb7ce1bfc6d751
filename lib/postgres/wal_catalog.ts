// What a WAL folder (DEST/wal/ or the bucket's wal/) holds, read once from its names and
// the base backups' records (README: Point-in-time recovery): the segments per timeline,
// the partial copies, the history files, the bases; and what retention may remove.

import { sidecarName } from "../store/names.ts";
import { parseStoredWal, type StoredWal } from "../store/wal_names.ts";
import { byPosition, type WalStore } from "../store/wal_store.ts";
import { type BaseRecord, parseBaseRecord } from "./base_record.ts";

/** A stored WAL file with its size and time. */
export interface CatalogFile extends StoredWal {
  /** Bytes as stored. */
  size: number;
  /** When it was stored, Unix ms. */
  storedMs: number;
}

/** A base backup's record, with the file it is stored in. */
export interface CatalogBase extends BaseRecord {
  /** Its file in the WAL folder. */
  file: string;
}

/** Everything a WAL folder holds that backupd wrote whole (each file has its sidecar). */
export interface WalCatalog {
  /** The server's WAL segment size (from the bases' records; 16 MiB when there is none). */
  segmentBytes: number;
  /** Whole segments, oldest first. */
  segments: CatalogFile[];
  /** Partial copies of the segment being written, oldest first. */
  partials: CatalogFile[];
  /** Timeline history files. */
  histories: CatalogFile[];
  /** Base backups' records, oldest start first. */
  bases: CatalogBase[];
}

const MB16 = 16 * 1024 * 1024;
const RECORD = /^[0-9A-F]{24}\.[0-9A-F]{8}\.backup$/;

/**
 * Reads a WAL folder's names and its bases' records.
 *
 * @example
 * ```ts ignore
 * const catalog = await readWalCatalog(localWalStore("/backup"));
 * ```
 */
export async function readWalCatalog(store: WalStore): Promise<WalCatalog> {
  const objects = await store.list();
  const names = new Set(objects.map((o) => o.file));
  const whole = objects.filter((o) => names.has(sidecarName(o.file)));
  const bases: CatalogBase[] = [];
  for (const object of whole.filter((o) => RECORD.test(o.file))) {
    const text = await store.read(object.file);
    const record = text ? parseBaseRecord(new TextDecoder().decode(text)) : undefined;
    if (record) bases.push({ ...record, file: object.file });
  }
  const segmentBytes = bases[0]?.segmentBytes ?? MB16;
  const files = whole.flatMap((o) => {
    const parsed = parseStoredWal(o.file, segmentBytes);
    return parsed && parsed.kind !== "backup"
      ? [{ ...parsed, size: o.size, storedMs: o.storedMs }]
      : [];
  }).sort(byPosition);
  return {
    segmentBytes,
    segments: files.filter((f) => f.kind === "segment"),
    partials: files.filter((f) => f.kind === "partial"),
    histories: files.filter((f) => f.kind === "history"),
    bases: bases.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0)),
  };
}

/** A run of consecutive segments on one timeline. */
export interface WalRange {
  /** The timeline. */
  timeline: number;
  /** The first segment's number and name. */
  first: number;
  /** The last segment's number. */
  last: number;
}

/**
 * The runs of consecutive whole segments, per timeline, oldest first: more than one run on
 * a timeline means a gap between them.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * const seg = (timeline: number, segno: number) => ({ timeline, segno });
 * assertEquals(walRanges([seg(1, 3), seg(1, 4), seg(1, 6), seg(2, 6)]), [
 *   { timeline: 1, first: 3, last: 4 },
 *   { timeline: 1, first: 6, last: 6 },
 *   { timeline: 2, first: 6, last: 6 },
 * ]);
 * ```
 */
export function walRanges(segments: readonly Pick<StoredWal, "timeline" | "segno">[]): WalRange[] {
  const ranges: WalRange[] = [];
  const sorted = [...segments].sort((a, b) => a.timeline - b.timeline || a.segno - b.segno);
  for (const { timeline, segno } of sorted) {
    const last = ranges.at(-1);
    if (last && last.timeline === timeline && last.last + 1 === segno) last.last = segno;
    else if (!(last && last.timeline === timeline && last.last === segno)) {
      ranges.push({ timeline, first: segno, last: segno });
    }
  }
  return ranges;
}

/**
 * The WAL files retention removes once only the archives in `kept` remain: everything that
 * begins before the start of the oldest kept base backup, never a history file, never
 * anything when no kept archive has a record. Sidecars are listed too.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * const file = (f: string, segno: number, kind = "segment") => ({ file: f, segno, kind });
 * const catalog = {
 *   segments: [file("A.gz", 2), file("B.gz", 3)],
 *   partials: [],
 *   bases: [{ archive: "2026-12-03/01-00-00.tar.gz", start: 0x3000028n, segmentBytes: 16777216, file: "R.backup" }],
 * };
 * assertEquals(walToRemove(catalog, new Set(["2026-12-03/01-00-00.tar.gz"])), ["A.gz", "A.gz.sha256"]);
 * assertEquals(walToRemove(catalog, new Set()), []);
 * ```
 */
export function walToRemove(
  catalog: {
    segments: readonly Pick<CatalogFile, "file" | "segno">[];
    partials: readonly Pick<CatalogFile, "file" | "segno">[];
    bases: readonly Pick<CatalogBase, "archive" | "start" | "segmentBytes" | "file">[];
  },
  kept: ReadonlySet<string>,
): string[] {
  const keptBases = catalog.bases.filter((b) => kept.has(b.archive));
  if (keptBases.length === 0) return [];
  const floor = Math.min(...keptBases.map((b) => Number(b.start / BigInt(b.segmentBytes))));
  const old = [
    ...catalog.segments.filter((f) => f.segno < floor).map((f) => f.file),
    ...catalog.partials.filter((f) => f.segno < floor).map((f) => f.file),
    ...catalog.bases.filter((b) => !kept.has(b.archive)).map((b) => b.file),
  ];
  return old.flatMap((file) => [file, sidecarName(file)]);
}

/**
 * Retention of a WAL folder once only the archives in `kept` remain ({@linkcode walToRemove});
 * unless `dryRun`, the files are removed. Returns the files (not their sidecars).
 *
 * @example
 * ```ts ignore
 * const removed = await pruneWal(localWalStore("/backup"), new Set(plan.keep), { dryRun: false });
 * ```
 */
export async function pruneWal(
  store: WalStore,
  kept: ReadonlySet<string>,
  { dryRun, catalog }: { dryRun: boolean; catalog?: WalCatalog },
): Promise<string[]> {
  const remove = walToRemove(catalog ?? await readWalCatalog(store), kept);
  if (!dryRun) { for (const file of remove) await store.remove(file); }
  return remove.filter((file) => !file.endsWith(".sha256")).sort();
}
