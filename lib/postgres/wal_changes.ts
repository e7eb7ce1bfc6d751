// What archived WAL says of each transaction (README: Get one table back): its commit or
// abort time to the microsecond, its xid, and the rows it inserted, updated and deleted per
// relation file, read from the records' block references and heap operations. Written from
// PostgreSQL's documented on-disk format (xlogrecord.h, heapam_xlog.h, xact.h).

/** A relation file as WAL names it. */
export interface RelFile {
  /** Its tablespace. */
  spc: number;
  /** Its database. */
  db: number;
  /** Its relation file number (pg_class.relfilenode). */
  rel: number;
}

/** A record's transaction, block references and main data. */
interface Parsed {
  xid: number;
  rmid: number;
  info: number;
  /** The main fork's relation files of the blocks, in order (a block of another fork: none). */
  blocks: (RelFile | undefined)[];
  main: Uint8Array;
}

const RECORD_HEADER = 24;
const DATA_SHORT = 255;
const DATA_LONG = 254;
const ORIGIN = 253;
const TOPLEVEL_XID = 252;
const MAX_BLOCK_ID = 32;
const HAS_IMAGE = 0x10;
const SAME_REL = 0x80;
const FORK_MASK = 0x0f;
/** PostgreSQL's epoch (2000-01-01) in Unix microseconds. */
const PG_EPOCH_US = 946_684_800_000_000n;

/** A record's headers walked to its main data; `undefined` when they do not parse. */
function parse(record: Uint8Array): Parsed | undefined {
  const view = new DataView(record.buffer, record.byteOffset, record.byteLength);
  const blocks: (RelFile | undefined)[] = [];
  let last: RelFile | undefined;
  let pos = RECORD_HEADER;
  let main = 0;
  while (pos < record.length) {
    const id = view.getUint8(pos);
    if (id === DATA_SHORT) {
      main = view.getUint8(pos + 1);
      break;
    }
    if (id === DATA_LONG) {
      main = view.getUint32(pos + 1, true);
      break;
    }
    if (id === ORIGIN) pos += 3;
    else if (id === TOPLEVEL_XID) pos += 5;
    else if (id <= MAX_BLOCK_ID) {
      const flags = view.getUint8(pos + 1);
      pos += 4;
      if (flags & HAS_IMAGE) {
        const info = view.getUint8(pos + 4);
        pos += 5;
        // A compressed image with a hole says the hole's length too.
        if ((info & 0x01) && (info & 0x1c)) pos += 2;
      }
      if (!(flags & SAME_REL)) {
        last = {
          spc: view.getUint32(pos, true),
          db: view.getUint32(pos + 4, true),
          rel: view.getUint32(pos + 8, true),
        };
        pos += 12;
      }
      pos += 4;
      blocks.push((flags & FORK_MASK) === 0 ? last : undefined);
    } else return undefined;
  }
  if (main > record.length) return undefined;
  return {
    xid: view.getUint32(4, true),
    rmid: view.getUint8(17),
    info: view.getUint8(16),
    blocks,
    main: record.subarray(record.length - main),
  };
}

/**
 * A whole record's main data (its tail, after the block references' headers and data);
 * `undefined` when its headers do not parse.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * const record = new Uint8Array([...new Uint8Array(24), 255, 2, 7, 9]);
 * assertEquals(mainData(record), new Uint8Array([7, 9]));
 * ```
 */
export function mainData(record: Uint8Array): Uint8Array | undefined {
  return parse(record)?.main;
}

/** One transaction's end and its row changes. */
export interface TransactionEnd {
  /** Its transaction id. */
  xid: number;
  /** COMMIT or ABORT. */
  kind: "commit" | "abort";
  /** When, in Unix microseconds. */
  micros: bigint;
  /** Where its end record begins. */
  lsn: bigint;
  /** Rows changed per relation file (`spc/db/rel`). */
  changes: Map<string, { file: RelFile; inserted: number; updated: number; deleted: number }>;
}

const RM_XACT = 1;
const RM_HEAP2 = 9;
const RM_HEAP = 10;

/**
 * Follows records (fed in WAL order) and gives each transaction's end with the rows it
 * changed. Changes in subtransactions (savepoints) carry their own xid and are not added
 * to their parent's.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * const ends: TransactionEnd[] = [];
 * const follow = new TransactionFollower((end) => ends.push(end));
 * follow.record(new Uint8Array(24), 0n);
 * assertEquals(ends, []);
 * ```
 */
export class TransactionFollower {
  readonly #open = new Map<number, TransactionEnd["changes"]>();
  /** A follower that tells `onEnd` of each transaction's end as it is read. */
  constructor(readonly onEnd: (end: TransactionEnd) => void) {}

  /** One whole record, header included, that begins at `lsn`. */
  record(record: Uint8Array, lsn: bigint): void {
    const parsed = parse(record);
    if (!parsed || parsed.xid === 0) return;
    if (parsed.rmid === RM_XACT) return this.#end(parsed, lsn);
    const change = rowChange(parsed);
    if (!change) return;
    const file = parsed.blocks[0];
    if (!file) return;
    const changes = this.#open.get(parsed.xid) ?? new Map();
    this.#open.set(parsed.xid, changes);
    const key = `${file.spc}/${file.db}/${file.rel}`;
    const counts = changes.get(key) ?? { file, inserted: 0, updated: 0, deleted: 0 };
    counts[change.kind] += change.rows;
    changes.set(key, counts);
  }

  #end(parsed: Parsed, lsn: bigint): void {
    const op = parsed.info & 0x70;
    // Commit (0x00) and abort (0x20); the prepared ones (0x30, 0x40) name another xid.
    if ((op !== 0x00 && op !== 0x20) || parsed.main.length < 8) return;
    const view = new DataView(parsed.main.buffer, parsed.main.byteOffset, 8);
    this.onEnd({
      xid: parsed.xid,
      kind: op === 0x00 ? "commit" : "abort",
      micros: PG_EPOCH_US + view.getBigInt64(0, true),
      lsn,
      changes: this.#open.get(parsed.xid) ?? new Map(),
    });
    this.#open.delete(parsed.xid);
  }
}

/** The rows a heap record changes: inserted, updated or deleted, and how many. */
function rowChange(
  parsed: Parsed,
): { kind: "inserted" | "updated" | "deleted"; rows: number } | undefined {
  const op = parsed.info & 0x70;
  if (parsed.rmid === RM_HEAP) {
    if (op === 0x00) return { kind: "inserted", rows: 1 };
    if (op === 0x10) return { kind: "deleted", rows: 1 };
    if (op === 0x20 || op === 0x40) return { kind: "updated", rows: 1 };
  }
  // XLOG_HEAP2_MULTI_INSERT (COPY, INSERT ... SELECT of many rows): ntuples after a flag byte.
  if (parsed.rmid === RM_HEAP2 && op === 0x50 && parsed.main.length >= 4) {
    const view = new DataView(parsed.main.buffer, parsed.main.byteOffset, 4);
    return { kind: "inserted", rows: view.getUint16(2, true) };
  }
  return undefined;
}

/**
 * A time in Unix microseconds as ISO 8601 with all six digits, in UTC.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(microsIso(1796310300123456n), "2026-12-03T15:05:00.123456Z");
 * ```
 */
export function microsIso(micros: bigint): string {
  const ms = Number(micros / 1000n);
  const rest = String(micros % 1_000_000n).padStart(6, "0");
  return `${new Date(ms).toISOString().slice(0, 19)}.${rest}Z`;
}
