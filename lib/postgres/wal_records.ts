// Reading a WAL segment's pages and records just far enough for point-in-time recovery
// (README: Point-in-time recovery): that a copied segment is the one its name says (its
// first page's address and segment size), and the times of the commits and aborts in it,
// which are what `recovery_target_time` is compared with. Written from PostgreSQL's
// documented on-disk format (access/xlog_internal.h, access/xlogrecord.h), little-endian.

import { mainData } from "./wal_changes.ts";

/**
 * The on-disk facts both WAL readers use: the page headers' sizes (the short one, and the
 * long one that opens each segment), a record's fixed header (XLogRecord), and the xlp_info
 * flags for a page that starts with the rest of a record begun before, and for the long
 * header.
 */
export const WAL_FORMAT = {
  shortHeader: 24,
  longHeader: 40,
  recordHeader: 24,
  firstIsContrecord: 0x0001,
  longHeaderFlag: 0x0002,
} as const;
const {
  shortHeader: SHORT_HEADER,
  longHeader: LONG_HEADER,
  recordHeader: RECORD_HEADER,
  firstIsContrecord: FIRST_IS_CONTRECORD,
  longHeaderFlag: LONG_HEADER_FLAG,
} = WAL_FORMAT;
/** The resource manager of transactions, and its commit and abort records. */
const RM_XACT = 1;
const XACT_OPMASK = 0x70;
const XACT_ENDS = new Set([0x00, 0x20, 0x30, 0x40]);
/** PostgreSQL's epoch (2000-01-01) in Unix milliseconds. */
const PG_EPOCH_MS = 946_684_800_000;

/**
 * `n` rounded up to PostgreSQL's MAXALIGN (8): where the next record begins.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals([maxAlign(41), maxAlign(48)], [48, 48]);
 * ```
 */
export function maxAlign(n: number): number {
  return (n + 7) & ~7;
}

/** What the first page of a segment says of itself. */
export interface SegmentHeader {
  /** The LSN its first page is for. */
  pageAddress: bigint;
  /** The segment size the server writes. */
  segmentBytes: number;
  /** The WAL page size. */
  pageBytes: number;
  /** The server's system identifier. */
  systemIdentifier: string;
}

/**
 * Reads a segment's long page header; `undefined` when its first bytes are none.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(readSegmentHeader(new Uint8Array(8192)), undefined);
 * ```
 */
export function readSegmentHeader(bytes: Uint8Array): SegmentHeader | undefined {
  if (bytes.length < LONG_HEADER) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, LONG_HEADER);
  if ((view.getUint16(2, true) & LONG_HEADER_FLAG) === 0) return undefined;
  return {
    pageAddress: view.getBigUint64(8, true),
    systemIdentifier: view.getBigUint64(24, true).toString(),
    segmentBytes: view.getUint32(32, true),
    pageBytes: view.getUint32(36, true),
  };
}

/**
 * Why `bytes` is not the segment starting at LSN `start` of a server writing
 * `segmentBytes` segments; `undefined` when it is. A recycled file not yet rewritten still
 * carries its old address.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(segmentProblem(new Uint8Array(64), 0x3000000n, 16777216), "it does not begin with a WAL segment's page header");
 * ```
 */
export function segmentProblem(
  bytes: Uint8Array,
  start: bigint,
  segmentBytes: number,
): string | undefined {
  const header = readSegmentHeader(bytes);
  if (!header) return "it does not begin with a WAL segment's page header";
  if (header.segmentBytes !== segmentBytes) {
    return `its header says segments of ${header.segmentBytes} bytes, not ${segmentBytes}`;
  }
  if (header.pageAddress !== start) {
    return `its first page is for another place in the WAL (a recycled file): 0x${
      header.pageAddress.toString(16)
    }, not 0x${start.toString(16)}`;
  }
  return undefined;
}

/** The times of the transaction ends in a stretch of WAL. */
export interface WalTimes {
  /** The first commit or abort's time, Unix milliseconds. */
  first?: number;
  /** The last commit or abort's time. */
  last?: number;
  /** How many commits and aborts. */
  ends: number;
  /** The LSN just past the last whole record read. */
  end: bigint;
}

/** Reads a segment's bytes as the WAL's logical stream, page headers skipped. */
class PageReader {
  readonly #view: DataView;
  constructor(
    readonly bytes: Uint8Array,
    readonly start: bigint,
    readonly pageBytes: number,
  ) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Whether the page at `offset` is a valid page of this segment. */
  pageValid(pageOffset: number): boolean {
    if (pageOffset + SHORT_HEADER > this.bytes.length) return false;
    return this.#view.getBigUint64(pageOffset + 8, true) === this.start + BigInt(pageOffset);
  }

  headerBytes(pageOffset: number): number {
    return pageOffset === 0 ? LONG_HEADER : SHORT_HEADER;
  }

  /** `n` bytes of the stream from `pos`, across page headers; `undefined` past the data. */
  read(pos: number, n: number): { bytes: Uint8Array; end: number } | undefined {
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const page = pos - (pos % this.pageBytes);
      if (pos === page) {
        if (!this.pageValid(page)) return undefined;
        pos += this.headerBytes(page);
      }
      const take = Math.min(n - filled, page + this.pageBytes - pos);
      if (pos + take > this.bytes.length) return undefined;
      out.set(this.bytes.subarray(pos, pos + take), filled);
      filled += take;
      pos += take;
    }
    return { bytes: out, end: pos };
  }

  /** Where the first record that begins in this segment starts. */
  firstRecord(): number | undefined {
    let page = 0;
    for (;;) {
      if (!this.pageValid(page)) return undefined;
      const info = this.#view.getUint16(page + 2, true);
      const header = this.headerBytes(page);
      if ((info & FIRST_IS_CONTRECORD) === 0) return page + header;
      const rest = this.#view.getUint32(page + 16, true);
      if (header + rest <= this.pageBytes) return page + maxAlign(header + rest);
      page += this.pageBytes;
    }
  }
}

/**
 * The end time of a whole record (header included) if it is a commit or an abort, Unix ms;
 * `undefined` for other records.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(transactionEndTime(new Uint8Array(24)), undefined);
 * ```
 */
export function transactionEndTime(record: Uint8Array): number | undefined {
  const view = new DataView(record.buffer, record.byteOffset, record.byteLength);
  if (view.getUint8(17) !== RM_XACT || !XACT_ENDS.has(view.getUint8(16) & XACT_OPMASK)) {
    return undefined;
  }
  // The main data starts with the transaction's end time (TimestampTz, microseconds).
  const main = mainData(record);
  if (!main || main.length < 8) return undefined;
  const micros = new DataView(main.buffer, main.byteOffset, 8).getBigInt64(0, true);
  return PG_EPOCH_MS + Number(micros / 1000n);
}

/**
 * The times of the commits and aborts recorded in a segment (or the first `bytes.length`
 * bytes of one, for a partial copy) that starts at LSN `start`. Reading stops at the first
 * record that is not there: zeros, a page of another place, or the end of the bytes.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(walTimes(new Uint8Array(8192), 0x3000000n), { ends: 0, end: 0x3000000n });
 * ```
 */
export function walTimes(bytes: Uint8Array, start: bigint): WalTimes {
  const header = readSegmentHeader(bytes);
  const times: WalTimes = { ends: 0, end: start };
  if (!header || header.pageAddress !== start) return times;
  const reader = new PageReader(bytes, start, header.pageBytes);
  let pos = reader.firstRecord();
  let previous: bigint | undefined;
  while (pos !== undefined) {
    if (pos % header.pageBytes === 0) pos += reader.headerBytes(pos);
    const head = reader.read(pos, RECORD_HEADER);
    if (!head) break;
    const headView = new DataView(head.bytes.buffer);
    const length = headView.getUint32(0, true);
    const prev = headView.getBigUint64(8, true);
    if (length < RECORD_HEADER || (previous !== undefined && prev !== previous)) break;
    const record = reader.read(pos, length);
    if (!record) break;
    const time = transactionEndTime(record.bytes);
    if (time !== undefined) {
      times.first ??= time;
      times.last = time;
      times.ends++;
    }
    previous = start + BigInt(pos);
    times.end = start + BigInt(record.end);
    pos = maxAlign(record.end);
  }
  return times;
}
