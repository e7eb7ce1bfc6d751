// What `list` shows of point-in-time recovery (README: Point-in-time recovery): each base
// backup's start and stop LSN, timeline and times, and the WAL now covered, per timeline,
// with its gaps; as text lines or as JSON.

import { formatLsn, segmentName } from "../store/wal_names.ts";
import { isoInZone } from "../store/names.ts";
import type { WalStore } from "../store/wal_store.ts";
import { readWalCatalog, walRanges } from "../postgres/wal_catalog.ts";
import type { ArchiveName } from "../store/names.ts";
import { applyPolicy, type KeepPolicy, keepWindow } from "../store/retention.ts";

/** Point-in-time recovery as `list --json` shows it. */
export interface PitrView {
  /** Base backups, oldest first. */
  bases: {
    archive: string;
    startLsn: string;
    stopLsn: string;
    timeline: number;
    started: string;
    stopped: string;
  }[];
  /** Runs of consecutive segments, per timeline: more than one on a timeline is a gap. */
  wal: { timeline: number; first: string; last: string }[];
  /** The partial copy of the segment being written, if any. */
  partial?: string;
  /** When the newest WAL was stored. */
  reaches?: string;
  /** Segments missing between runs on the same timeline. */
  gaps: { from: string; to: string }[];
  /** The recovery window retention keeps (`--keep-within`), and the base that holds it. */
  window?: { from: string; base: string; recoverableFrom: string };
}

/**
 * Reads a WAL folder for `list`; `undefined` when it holds nothing.
 *
 * @example
 * ```ts ignore
 * const view = await pitrView(localWalStore("/backup"), "UTC");
 * ```
 */
export async function pitrView(
  store: WalStore,
  tz: string,
  retention?: { keep: KeepPolicy; archives: readonly ArchiveName[]; now: number },
): Promise<PitrView | undefined> {
  const catalog = await readWalCatalog(store);
  const window = retention &&
    keepWindow(applyPolicy(retention.archives, retention.keep), catalog.bases, {
      within: retention.keep.within,
      now: retention.now,
    }).window;
  if (catalog.bases.length === 0 && catalog.segments.length === 0) return undefined;
  const size = catalog.segmentBytes;
  const ranges = walRanges(catalog.segments);
  const gaps: PitrView["gaps"] = [];
  ranges.forEach((range, i) => {
    const next = ranges[i + 1];
    if (next?.timeline === range.timeline) {
      gaps.push({
        from: segmentName(range.timeline, range.last + 1, size),
        to: segmentName(range.timeline, next.first - 1, size),
      });
    }
  });
  const newest = Math.max(0, ...[...catalog.segments, ...catalog.partials].map((f) => f.storedMs));
  const partial = catalog.partials.at(-1);
  return {
    bases: catalog.bases.map((b) => ({
      archive: b.archive,
      startLsn: formatLsn(b.start),
      stopLsn: formatLsn(b.stop),
      timeline: b.timeline,
      started: isoInZone(b.startedMs, tz),
      stopped: isoInZone(b.stoppedMs, tz),
    })),
    wal: ranges.map((r) => ({
      timeline: r.timeline,
      first: segmentName(r.timeline, r.first, size),
      last: segmentName(r.timeline, r.last, size),
    })),
    ...(partial ? { partial: partial.wal } : {}),
    ...(newest > 0 ? { reaches: isoInZone(newest, tz) } : {}),
    gaps,
    ...(window
      ? {
        window: {
          from: isoInZone(Math.max(window.from, window.recoverableFrom), tz),
          base: window.holder,
          recoverableFrom: isoInZone(window.recoverableFrom, tz),
        },
      }
      : {}),
  };
}

/**
 * The view as lines under the archive table.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(pitrText({ bases: [], wal: [], gaps: [] }), "point-in-time recovery: no base backup recorded\n");
 * ```
 */
export function pitrText(view: PitrView): string {
  const lines = view.bases.length === 0 ? ["point-in-time recovery: no base backup recorded"] : [
    "point-in-time recovery:",
    ...view.bases.map((b) =>
      `  base ${b.archive}  timeline ${b.timeline}  LSN ${b.startLsn} to ${b.stopLsn}  ended ${b.stopped}`
    ),
  ];
  for (const range of view.wal) {
    lines.push(`  WAL timeline ${range.timeline}: ${range.first} to ${range.last}`);
  }
  if (view.partial) lines.push(`  WAL being written: ${view.partial}`);
  if (view.reaches) lines.push(`  WAL stored up to ${view.reaches}`);
  if (view.window) {
    lines.push(
      `  recovery window: every moment since ${view.window.from} stays recoverable, from base ${view.window.base}`,
    );
  }
  for (const gap of view.gaps) {
    lines.push(
      `  GAP: ${gap.from} to ${gap.to} missing: no recovery to a time after it from an earlier base`,
    );
  }
  return `${lines.join("\n")}\n`;
}
