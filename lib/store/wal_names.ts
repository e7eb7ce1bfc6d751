// PostgreSQL's WAL as names (README: Point-in-time recovery): locations (LSNs), segment and
// timeline-history file names, and the names backupd stores them under in DEST/wal/.
// Pure functions; the archiver, retention, list and restore all read names through here.

import type { Compression } from "./names.ts";

/**
 * Reads a WAL location written as PostgreSQL prints it (`X/Y`, hexadecimal).
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(parseLsn("0/2000028"), 0x2000028n);
 * ```
 */
export function parseLsn(text: string): bigint {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text.trim());
  if (!match) throw new TypeError(`Cannot read the WAL location "${text}": expected X/Y in hex`);
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

/**
 * Writes a WAL location as PostgreSQL does (`%X/%X`).
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(formatLsn(0x2000028n), "0/2000028");
 * ```
 */
export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${
    (lsn & 0xffffffffn).toString(16).toUpperCase()
  }`;
}

function hex8(n: bigint | number): string {
  return n.toString(16).toUpperCase().padStart(8, "0");
}

/**
 * Checks a WAL segment size as PostgreSQL allows it: a power of two from 1 MiB to 1 GiB.
 *
 * @example
 * ```ts
 * import { throws } from "node:assert/strict";
 * checkSegmentBytes(16 * 1024 * 1024);
 * throws(() => checkSegmentBytes(3_000_000), RangeError);
 * ```
 */
export function checkSegmentBytes(segmentBytes: number): void {
  if (!Number.isInteger(segmentBytes) || segmentBytes <= 0 || 0x100000000 % segmentBytes !== 0) {
    throw new RangeError(`Cannot use the WAL segment size "${segmentBytes}": not a power of two`);
  }
}

/**
 * The name of the WAL segment number `segno` on `timeline` (`TTTTTTTTXXXXXXXXYYYYYYYY`).
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(segmentName(1, 0x100, 16 * 1024 * 1024), "000000010000000100000000");
 * ```
 */
export function segmentName(timeline: number, segno: number, segmentBytes: number): string {
  const perId = 0x100000000 / segmentBytes;
  return `${hex8(timeline)}${hex8(Math.floor(segno / perId))}${hex8(segno % perId)}`;
}

/** A segment named: its timeline and number. */
export interface SegmentId {
  /** The timeline it belongs to. */
  timeline: number;
  /** Its number: the LSN of its first byte divided by the segment size. */
  segno: number;
}

/**
 * Reads a segment name back; `undefined` for any other name.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(parseSegmentName("000000020000000100000003", 16 * 1024 * 1024), { timeline: 2, segno: 0x103 });
 * ```
 */
export function parseSegmentName(name: string, segmentBytes: number): SegmentId | undefined {
  const match = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$/.exec(name);
  if (!match) return undefined;
  const perId = 0x100000000 / segmentBytes;
  const low = parseInt(match[3] as string, 16);
  if (low >= perId) return undefined;
  return {
    timeline: parseInt(match[1] as string, 16),
    segno: parseInt(match[2] as string, 16) * perId + low,
  };
}

/**
 * The number of the segment holding `lsn`.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(segnoOf(0x3000028n, 16 * 1024 * 1024), 3);
 * ```
 */
export function segnoOf(lsn: bigint, segmentBytes: number): number {
  return Number(lsn / BigInt(segmentBytes));
}

/**
 * The LSN of a segment's first byte.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(segmentStart(3, 16 * 1024 * 1024), 0x3000000n);
 * ```
 */
export function segmentStart(segno: number, segmentBytes: number): bigint {
  return BigInt(segno) * BigInt(segmentBytes);
}

/**
 * The name of a timeline's history file.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(historyName(2), "00000002.history");
 * ```
 */
export function historyName(timeline: number): string {
  return `${hex8(timeline)}.history`;
}

/** One line of a timeline history file: a parent and where the child left it. */
export interface TimelineSwitch {
  /** The parent timeline. */
  parent: number;
  /** The first LSN that is no longer the parent's. */
  switchpoint: bigint;
}

/**
 * Reads a timeline history file: its ancestors, oldest first, each with the LSN where the
 * next timeline branched off it.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(parseHistory("1\t0/3000100\tafter the target\n"), [{ parent: 1, switchpoint: 0x3000100n }]);
 * ```
 */
export function parseHistory(text: string): TimelineSwitch[] {
  const switches: TimelineSwitch[] = [];
  for (const line of text.split("\n")) {
    const match = /^\s*(\d+)\s+([0-9A-Fa-f]+\/[0-9A-Fa-f]+)/.exec(line);
    if (match) {
      switches.push({ parent: Number(match[1]), switchpoint: parseLsn(match[2] as string) });
    }
  }
  return switches;
}

/** What a file in DEST/wal/ holds. */
export type WalKind = "segment" | "partial" | "history" | "backup";

/** A file in DEST/wal/ read back from its name. */
export interface StoredWal {
  /** What it holds. */
  kind: WalKind;
  /** PostgreSQL's name for it (`000000010000000000000003`, `00000002.history`, ...). */
  wal: string;
  /** Its timeline. */
  timeline: number;
  /** The segment it is or belongs to (history files: 0). */
  segno: number;
  /** How it is compressed; a base backup's record is plain text. */
  compression?: Compression;
  /** Whether age encrypted it. */
  encrypted: boolean;
  /** Its file name in DEST/wal/. */
  file: string;
}

/** The folder under DEST (and under the bucket's prefix) that holds the WAL. */
export const WAL_FOLDER = "wal";

const ENDING = { gzip: ".gz", zstd: ".zst" } as const;

/**
 * The name backupd stores a WAL file under: PostgreSQL's name (a rolling partial segment:
 * `.partial` added), then `.gz` or `.zst`, then `.age` when encrypted. A base backup's
 * record (`.backup`) is stored as it is.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(storedWalName("000000010000000000000003", "gzip", false), "000000010000000000000003.gz");
 * assertEquals(storedWalName("000000010000000000000004.partial", "zstd", true), "000000010000000000000004.partial.zst.age");
 * ```
 */
export function storedWalName(wal: string, compression: Compression, encrypted: boolean): string {
  return `${wal}${ENDING[compression]}${encrypted ? ".age" : ""}`;
}

const STORED =
  /^(([0-9A-F]{8})[0-9A-F]{16})(\.partial|\.[0-9A-F]{8}\.backup)?(?:(\.gz|\.zst)(\.age)?)?$|^(([0-9A-F]{8})\.history)(\.gz|\.zst)(\.age)?$/;

/**
 * Reads a name in DEST/wal/ back; `undefined` for any file backupd does not write there.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * const MB16 = 16 * 1024 * 1024;
 * assertEquals(parseStoredWal("000000010000000000000003.gz", MB16)?.kind, "segment");
 * assertEquals(parseStoredWal("00000002.history.zst.age", MB16)?.timeline, 2);
 * assertEquals(parseStoredWal("000000010000000000000003.00000028.backup", MB16)?.kind, "backup");
 * assertEquals(parseStoredWal("notes.txt", MB16), undefined);
 * ```
 */
export function parseStoredWal(file: string, segmentBytes: number): StoredWal | undefined {
  const match = STORED.exec(file);
  if (!match) return undefined;
  if (match[6] !== undefined) {
    return {
      kind: "history",
      wal: match[6],
      timeline: parseInt(match[7] as string, 16),
      segno: 0,
      compression: match[8] === ".zst" ? "zstd" : "gzip",
      encrypted: match[9] !== undefined,
      file,
    };
  }
  const id = parseSegmentName(match[1] as string, segmentBytes);
  if (!id) return undefined;
  const suffix = match[3] ?? "";
  const kind: WalKind = suffix === "" ? "segment" : suffix === ".partial" ? "partial" : "backup";
  // A base backup's record is plain; everything else is compressed.
  if ((kind === "backup") !== (match[4] === undefined)) return undefined;
  return {
    kind,
    wal: `${match[1]}${suffix}`,
    ...id,
    ...(match[4] ? { compression: match[4] === ".zst" ? "zstd" as const : "gzip" as const } : {}),
    encrypted: match[5] !== undefined,
    file,
  };
}

/**
 * The name of a base backup's record: the segment where it starts and the offset in it, as
 * PostgreSQL names its backup history files.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(backupRecordName(1, 0x3000028n, 16 * 1024 * 1024), "000000010000000000000003.00000028.backup");
 * ```
 */
export function backupRecordName(timeline: number, start: bigint, segmentBytes: number): string {
  const segno = segnoOf(start, segmentBytes);
  const offset = start - segmentStart(segno, segmentBytes);
  return `${segmentName(timeline, segno, segmentBytes)}.${hex8(offset)}.backup`;
}
