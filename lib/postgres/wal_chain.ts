// Reading archived WAL as PostgreSQL's recovery will, before a server meets it (README:
// Point-in-time recovery): one chain of records across segments and timelines, each
// record's CRC-32C checked and each beginning where the one before it ended. PostgreSQL
// takes a record that fails these checks for the end of the WAL and opens short, silently;
// here it is a break, named. Written from the documented on-disk format (xlog_internal.h,
// xlogrecord.h, xlogreader.c's rules), little-endian.

import { crc32cFinish, crc32cUpdate } from "./crc32c.ts";
import { formatLsn } from "../store/wal_names.ts";
import { maxAlign, transactionEndTime, WAL_FORMAT } from "./wal_records.ts";

/** One segment of the chain, loaded when the reader reaches it. */
export interface ChainSegment {
  /** Its name, as a break names it. */
  name: string;
  /** Its segment number. */
  segno: number;
  /**
   * Its bytes: a whole segment or, for the newest, the prefix a partial copy holds. It may
   * read them into `buffer` (a segment's size, reused once the reader is past it) and
   * return a view of it, so that reading a day of WAL makes no garbage.
   */
  load(buffer: Uint8Array): Promise<Uint8Array>;
}

/** Where and why the chain broke. */
export interface ChainBreak {
  /** The segment it broke in. */
  segment: string;
  /** The LSN of the record (or page) that failed. */
  lsn: bigint;
  /** Why, in words. */
  reason: string;
}

/** What reading the chain found. */
export interface WalChain {
  /** Whole records read. */
  records: number;
  /** Where the last whole record begins: recovery_target_lsn for "all of it". */
  lastStart?: bigint;
  /** Just past the last whole record. */
  end: bigint;
  /** The last commit or abort's time read, Unix ms. */
  lastTime?: number;
  /** Where the chain broke before the end of its newest segment; none when it is whole. */
  broken?: ChainBreak;
  /** Reading stopped at a commit or abort after `stopAfter` (the rest was not read). */
  passedTarget?: boolean;
}

const {
  shortHeader: SHORT_HEADER,
  longHeader: LONG_HEADER,
  recordHeader: RECORD_HEADER,
  firstIsContrecord: FIRST_IS_CONTRECORD,
  longHeaderFlag: LONG_HEADER_FLAG,
} = WAL_FORMAT;
/** Where xl_crc sits in a record's header: the CRC covers the header up to here. */
const CRC_OFFSET = 20;
/** xlp_info: a record cut off by a crash was overwritten; the page starts anew. */
const FIRST_IS_OVERWRITE_CONTRECORD = 0x0008;
/** The XLOG resource manager's WAL switch: the rest of the segment is unused. */
const RM_XLOG = 0;
const XLOG_SWITCH = 0x40;
/** No record is larger (PostgreSQL's XLogRecordMaxSize is 1020 MiB). */
const MAX_RECORD = 1020 * 1024 * 1024;

/** A segment before the newest that is not whole: the chain breaks at its start. */
class ShortSegment extends Error {
  constructor(readonly index: number, reason: string) {
    super(reason);
  }
}

/** Why a read stopped: the data ended (a torn tail), or a page is not what it must be. */
type Stop = { end: true } | { invalid: string; at: number } | { overwritten: number };

/** The segments as one stream of bytes, offsets relative to the first segment's start. */
class SegmentWindow {
  readonly #loaded = new Map<number, Uint8Array>();
  /** The reusable buffers segments were read into, and those free again. */
  readonly #buffers = new Map<number, Uint8Array>();
  readonly #free: Uint8Array[] = [];
  #magic: number | undefined;
  #timeline = 0;
  constructor(
    readonly segments: readonly ChainSegment[],
    readonly segmentBytes: number,
    readonly pageBytes: number,
  ) {}

  get length(): number {
    return (this.segments.length - 1) * this.segmentBytes + this.#lastLength;
  }
  #lastLength = 0;

  async open(): Promise<string | undefined> {
    for (let i = 0; i < this.segments.length; i++) {
      if (
        (this.segments[i] as ChainSegment).segno !== (this.segments[0] as ChainSegment).segno + i
      ) {
        return `${(this.segments[i] as ChainSegment).name} does not follow the segment before it`;
      }
    }
    const last = await this.bytes(this.segments.length - 1);
    this.#lastLength = last.length;
    return undefined;
  }

  lsn(pos: number): bigint {
    return BigInt((this.segments[0] as ChainSegment).segno) * BigInt(this.segmentBytes) +
      BigInt(pos);
  }

  nameAt(pos: number): string {
    const index = Math.min(Math.floor(pos / this.segmentBytes), this.segments.length - 1);
    return (this.segments[index] as ChainSegment).name;
  }

  async bytes(index: number): Promise<Uint8Array> {
    let bytes = this.#loaded.get(index);
    if (!bytes) {
      const segment = this.segments[index] as ChainSegment;
      const buffer = this.#free.pop() ?? new Uint8Array(this.segmentBytes);
      bytes = await segment.load(buffer);
      if (bytes.buffer === buffer.buffer) this.#buffers.set(index, buffer);
      else this.#free.push(buffer);
      if (index < this.segments.length - 1 && bytes.length !== this.segmentBytes) {
        throw new ShortSegment(
          index,
          `it holds ${bytes.length} bytes, not a whole segment of ${this.segmentBytes}`,
        );
      }
      this.#loaded.set(index, bytes);
    }
    return bytes;
  }

  /** Forgets the segments before the one holding `pos`: memory stays at a few segments. */
  release(pos: number): void {
    const keep = Math.floor(pos / this.segmentBytes);
    for (const index of this.#loaded.keys()) {
      if (index >= keep) continue;
      this.#loaded.delete(index);
      const buffer = this.#buffers.get(index);
      this.#buffers.delete(index);
      if (buffer) this.#free.push(buffer);
    }
  }

  /** The page header at `page` (a page boundary): its size and flags, or why it cannot be read. */
  async page(page: number): Promise<{ header: number; info: number; remaining: number } | Stop> {
    if (page + SHORT_HEADER > this.length) return { end: true };
    const index = Math.floor(page / this.segmentBytes);
    const offset = page % this.segmentBytes;
    const bytes = await this.bytes(index);
    if (offset + SHORT_HEADER > bytes.length) return { end: true };
    const view = new DataView(bytes.buffer, bytes.byteOffset + offset, SHORT_HEADER);
    const magic = view.getUint16(0, true);
    this.#magic ??= magic;
    const info = view.getUint16(2, true);
    const timeline = view.getUint32(4, true);
    const address = view.getBigUint64(8, true);
    // A page's timeline never goes back, nor past the timeline of the file that holds it.
    const fileTimeline = parseInt((this.segments[index] as ChainSegment).name.slice(0, 8), 16);
    if (
      magic !== this.#magic || address !== this.lsn(page) || timeline < this.#timeline ||
      timeline > fileTimeline
    ) {
      return {
        invalid: `the page at ${formatLsn(this.lsn(page))} is not the WAL's page there`,
        at: page,
      };
    }
    this.#timeline = timeline;
    const long = offset === 0;
    if (long !== ((info & LONG_HEADER_FLAG) !== 0)) {
      return { invalid: `the page at ${formatLsn(this.lsn(page))} has a wrong header`, at: page };
    }
    return { header: long ? LONG_HEADER : SHORT_HEADER, info, remaining: view.getUint32(16, true) };
  }

  /**
   * Copies `n` bytes of the record stream from `pos` into `out` at `into`, across page
   * headers; `total` is the record's length when known (a continued page must say how much
   * of it is left). Returns where the bytes ended, or why they could not be read.
   */
  async read(
    pos: number,
    n: number,
    out: Uint8Array,
    into: number,
    record: { start: number; total?: number },
  ): Promise<number | Stop> {
    let filled = 0;
    while (filled < n) {
      const page = pos - (pos % this.pageBytes);
      if (pos === page) {
        const header = await this.page(page);
        if (!("header" in header)) return header;
        const done = into + filled;
        if (page !== record.start - (record.start % this.pageBytes) || done > 0) {
          if ((header.info & FIRST_IS_OVERWRITE_CONTRECORD) !== 0) return { overwritten: page };
          if ((header.info & FIRST_IS_CONTRECORD) === 0) {
            return {
              invalid: `the record at ${formatLsn(this.lsn(record.start))} is cut off`,
              at: record.start,
            };
          }
          if (record.total !== undefined && header.remaining !== record.total - done) {
            return {
              invalid: `the record at ${formatLsn(this.lsn(record.start))} does not continue`,
              at: record.start,
            };
          }
        }
        pos += header.header;
      }
      const take = Math.min(n - filled, page + this.pageBytes - pos);
      if (pos + take > this.length) return { end: true };
      const index = Math.floor(pos / this.segmentBytes);
      const offset = pos % this.segmentBytes;
      const bytes = await this.bytes(index);
      out.set(bytes.subarray(offset, offset + take), into + filled);
      filled += take;
      pos += take;
    }
    return pos;
  }
}

/** Where the first record that begins in the first segment starts, past any continuation. */
async function firstRecord(window: SegmentWindow): Promise<number | Stop> {
  let page = 0;
  for (;;) {
    const header = await window.page(page);
    if (!("header" in header)) return header;
    if ((header.info & FIRST_IS_CONTRECORD) === 0) return page + header.header;
    if (header.header + header.remaining <= window.pageBytes) {
      return page + maxAlign(header.header + header.remaining);
    }
    page += window.pageBytes;
  }
}

/** Whether a whole record's CRC-32C is the one its header carries. */
function crcMatches(record: Uint8Array): boolean {
  const view = new DataView(record.buffer, record.byteOffset, RECORD_HEADER);
  let crc = crc32cUpdate(0xffffffff, record.subarray(RECORD_HEADER));
  crc = crc32cUpdate(crc, record.subarray(0, CRC_OFFSET));
  return crc32cFinish(crc) === view.getUint32(CRC_OFFSET, true);
}

/** What reading at one position found: a whole record, the end, a restart, or a break. */
type Step =
  | { record: Uint8Array; begins: number; ended: number }
  | { end: true }
  | { restart: number }
  | { broken: number; reason: string };

/** A buffer the records are read into, grown when one is larger: no garbage per record. */
class RecordBuffer {
  bytes = new Uint8Array(64 * 1024);
  fit(total: number): Uint8Array {
    if (this.bytes.length < total) {
      const larger = new Uint8Array(Math.max(total, this.bytes.length * 2));
      larger.set(this.bytes.subarray(0, RECORD_HEADER));
      this.bytes = larger;
    }
    return this.bytes;
  }
}

/** A read that stopped: the end, a restart at an overwritten record's page, or a break. */
function stopped(stop: Stop): Step {
  if ("end" in stop) return { end: true };
  if ("overwritten" in stop) return { restart: stop.overwritten };
  return { broken: stop.at, reason: stop.invalid };
}

/** The record at `pos` (a record boundary), checked: its length, its link back, its CRC. */
async function readRecord(
  window: SegmentWindow,
  pos: number,
  buffer: RecordBuffer,
  previous: bigint | undefined,
): Promise<Step> {
  const head = await window.read(pos, RECORD_HEADER, buffer.bytes, 0, { start: pos });
  if (typeof head !== "number") return stopped(head);
  const begins = pos % window.pageBytes === 0
    ? pos + (pos % window.segmentBytes === 0 ? LONG_HEADER : SHORT_HEADER)
    : pos;
  const at = formatLsn(window.lsn(begins));
  const view = new DataView(buffer.bytes.buffer, 0, RECORD_HEADER);
  const total = view.getUint32(0, true);
  if (total === 0) {
    // Zeros where a record must begin: the end of what the server wrote, in the newest
    // segment only; anywhere else the WAL is cut.
    const newest = Math.floor(begins / window.segmentBytes) === window.segments.length - 1;
    return newest ? { end: true } : { broken: begins, reason: `no record begins at ${at}` };
  }
  if (total < RECORD_HEADER || total > MAX_RECORD) {
    return { broken: begins, reason: `the record at ${at} has an impossible length` };
  }
  if (previous !== undefined && view.getBigUint64(8, true) !== previous) {
    return { broken: begins, reason: `the record at ${at} does not follow the one before it` };
  }
  const bytes = buffer.fit(total);
  const ended = await window.read(head, total - RECORD_HEADER, bytes, RECORD_HEADER, {
    start: begins,
    total,
  });
  if (typeof ended !== "number") return stopped(ended);
  const record = bytes.subarray(0, total);
  if (!crcMatches(record)) return { broken: begins, reason: `the record at ${at} fails its CRC` };
  return { record, begins, ended };
}

/** Where the chain breaks before it starts: the first segment holds no record to begin at. */
function startProblem(start: Stop): string {
  if ("end" in start) return "it holds no whole page";
  return "invalid" in start ? start.invalid : "no record begins in it";
}

/** How a chain is read. */
export interface ChainOptions {
  /** Stop at the first commit or abort after this time (Unix ms). */
  stopAfter?: number;
  /** Stop at the commit or abort of this transaction. */
  stopAtXid?: number;
  /** Told of each whole record as it is read (the bytes are reused after the call). */
  onRecord?: (record: Uint8Array, lsn: bigint) => void;
  /** The WAL page size. @default {8192} */
  pageBytes?: number;
}

/**
 * Reads `segments` (consecutive, the first holding the chain's start) as one chain of WAL
 * records from the first record that begins in the first segment. The chain is whole when
 * it runs to the end of the newest segment's bytes, where a record cut off by the end of
 * the data (a partial copy's torn tail) is where it ends; any other record that is not
 * there, fails its CRC or does not point back at the one before is a break. With
 * `stopAfter` (Unix ms), reading stops at the first commit or abort after it; with
 * `stopAtXid`, at that transaction's commit or abort.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * const zeros = { name: "000000010000000000000003", segno: 3, load: () => Promise.resolve(new Uint8Array(8192)) };
 * const chain = await readWalChain([zeros], 16777216);
 * assertEquals(chain.broken?.segment, "000000010000000000000003");
 * ```
 */
export async function readWalChain(
  segments: readonly ChainSegment[],
  segmentBytes: number,
  options: ChainOptions = {},
): Promise<WalChain> {
  if (segments.length === 0) return { records: 0, end: 0n };
  const window = new SegmentWindow(segments, segmentBytes, options.pageBytes ?? 8192);
  const chain: WalChain = { records: 0, end: window.lsn(0) };
  const brokenAt = (at: number, reason: string): WalChain => ({
    ...chain,
    broken: { segment: window.nameAt(at), lsn: window.lsn(at), reason },
  });
  const order = await window.open();
  if (order) return brokenAt(0, order);
  try {
    return await readRecords(window, chain, brokenAt, options);
  } catch (err) {
    if (!(err instanceof ShortSegment)) throw err;
    return brokenAt(err.index * segmentBytes, err.message);
  }
}

/** The records from the first one that begins in the first segment, into `chain`. */
async function readRecords(
  window: SegmentWindow,
  chain: WalChain,
  brokenAt: (at: number, reason: string) => WalChain,
  options: ChainOptions,
): Promise<WalChain> {
  const start = await firstRecord(window);
  if (typeof start !== "number") return brokenAt(0, startProblem(start));
  const buffer = new RecordBuffer();
  let pos = start;
  while (pos < window.length) {
    const step = await readRecord(window, pos, buffer, chain.lastStart);
    if ("end" in step) return chain;
    if ("restart" in step) {
      pos = step.restart;
      continue;
    }
    if ("broken" in step) return brokenAt(step.broken, step.reason);
    const { record, begins, ended } = step;
    chain.records++;
    chain.lastStart = window.lsn(begins);
    chain.end = window.lsn(ended);
    options.onRecord?.(record, chain.lastStart);
    const time = transactionEndTime(record);
    if (time !== undefined) {
      chain.lastTime = time;
      const xid = new DataView(record.buffer, record.byteOffset + 4, 4).getUint32(0, true);
      if (
        (options.stopAfter !== undefined && time > options.stopAfter) ||
        options.stopAtXid === xid
      ) {
        return { ...chain, passedTarget: true };
      }
    }
    const switched = record[17] === RM_XLOG && ((record[16] as number) & 0xf0) === XLOG_SWITCH;
    const size = window.segmentBytes;
    pos = switched ? Math.ceil(ended / size) * size : maxAlign(ended);
    window.release(pos);
  }
  return chain;
}
