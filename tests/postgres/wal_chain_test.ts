// The WAL chain reader on synthetic WAL laid out as PostgreSQL writes it: records across
// pages and segments, a WAL switch, commits with times, a torn tail, and damage of each kind.

import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { crc32cFinish, crc32cUpdate } from "../../lib/postgres/crc32c.ts";
import { type ChainSegment, readWalChain } from "../../lib/postgres/wal_chain.ts";

// Small segments keep the synthetic WAL small; the reader takes the size it is given.
const SEGMENT = 64 * 1024;
const PAGE = 8192;
const PG_EPOCH_MS = 946_684_800_000;

/** A WAL stream written as PostgreSQL lays it out: page headers, records, MAXALIGN. */
class WalWriter {
  readonly bytes = new Uint8Array(SEGMENT * 8);
  pos = 0;
  /** Where each record begins. */
  readonly starts: number[] = [];
  #prev = 0;

  constructor(readonly firstSegno: number) {
    this.#pageHeader(0, 0);
  }

  lsn(pos: number): bigint {
    return BigInt(this.firstSegno * SEGMENT + pos);
  }

  #pageHeader(page: number, remaining: number): number {
    const view = new DataView(this.bytes.buffer, page);
    const long = page % SEGMENT === 0;
    view.setUint16(0, 0xd110, true);
    view.setUint16(2, (remaining > 0 ? 1 : 0) | (long ? 2 : 0), true);
    view.setUint32(4, 1, true);
    view.setBigUint64(8, this.lsn(page), true);
    view.setUint32(16, remaining, true);
    if (long) {
      view.setUint32(32, SEGMENT, true);
      view.setUint32(36, PAGE, true);
    }
    return long ? 40 : 24;
  }

  /** Copies `data` in at the current position, page headers put in as pages begin. */
  #write(data: Uint8Array, total: number, done: number): void {
    let written = 0;
    while (written < data.length) {
      if (this.pos % PAGE === 0) {
        this.pos += this.#pageHeader(this.pos, total - done - written);
      }
      const take = Math.min(data.length - written, PAGE - (this.pos % PAGE));
      this.bytes.set(data.subarray(written, written + take), this.pos);
      written += take;
      this.pos += take;
    }
  }

  /** Appends one record of resource manager `rmid` with `info`, and `payload`. */
  record(rmid: number, info: number, payload: Uint8Array): number {
    if (this.pos % PAGE === 0) this.pos += this.#pageHeader(this.pos, 0);
    const total = 24 + payload.length;
    const record = new Uint8Array(total);
    const view = new DataView(record.buffer);
    view.setUint32(0, total, true);
    view.setUint32(4, 700, true);
    view.setBigUint64(8, this.starts.length === 0 ? 0n : this.lsn(this.#prev), true);
    record[16] = info;
    record[17] = rmid;
    record.set(payload, 24);
    let crc = crc32cUpdate(0xffffffff, record.subarray(24));
    crc = crc32cUpdate(crc, record.subarray(0, 20));
    view.setUint32(20, crc32cFinish(crc), true);
    this.starts.push(this.pos);
    this.#prev = this.pos;
    this.#write(record, total, 0);
    this.pos = (this.pos + 7) & ~7;
    return this.starts.at(-1) as number;
  }

  /** A commit whose time is `ms`. */
  commit(ms: number): number {
    const payload = new Uint8Array(10);
    payload[0] = 255;
    payload[1] = 8;
    new DataView(payload.buffer).setBigInt64(2, BigInt((ms - PG_EPOCH_MS) * 1000), true);
    return this.record(1, 0x00, payload);
  }

  /** An XLOG_SWITCH: the rest of the segment is unused, the next record opens the next. */
  switchSegment(): void {
    this.record(0, 0x40, new Uint8Array(0));
    this.pos = Math.ceil(this.pos / SEGMENT) * SEGMENT;
    if (this.pos % PAGE === 0) this.pos += this.#pageHeader(this.pos, 0);
    // Every page of the rest of the old segment had a header written when it was padded.
  }

  /** The segments as the chain reads them, the newest cut at `end` (default: the position). */
  segments(end = this.pos): ChainSegment[] {
    const count = Math.ceil(end / SEGMENT);
    return Array.from({ length: count }, (_, i) => {
      const segno = this.firstSegno + i;
      const from = i * SEGMENT;
      const to = i === count - 1 ? end : from + SEGMENT;
      return {
        name: `00000001000000000000${segno.toString(16).toUpperCase().padStart(4, "0")}`,
        segno,
        load: () => Promise.resolve(this.bytes.slice(from, to)),
      };
    });
  }
}

/** A stream of `n` records of varied sizes: some span pages, some span segments. */
function stream(n: number): WalWriter {
  const wal = new WalWriter(3);
  for (let i = 0; i < n; i++) wal.record(10, 0, new Uint8Array(100 + ((i * 977) % 9000)).fill(i));
  return wal;
}

Deno.test("readWalChain reads a whole chain across pages and segments to its last record", async () => {
  const wal = stream(60);
  strictEqual(Math.ceil(wal.pos / SEGMENT) >= 4, true);
  const chain = await readWalChain(wal.segments(), SEGMENT);
  strictEqual(chain.broken, undefined);
  strictEqual(chain.records, 60);
  strictEqual(chain.lastStart, wal.lsn(wal.starts.at(-1) as number));
});

Deno.test("readWalChain names the segment and the record whose CRC fails, and stops there", async () => {
  const wal = stream(60);
  const victim = wal.starts[40] as number;
  wal.bytes[victim + 30] = (wal.bytes[victim + 30] as number) ^ 0x20;
  const chain = await readWalChain(wal.segments(), SEGMENT);
  strictEqual(chain.records, 40);
  deepStrictEqual(chain.broken, {
    segment: wal.segments()[Math.floor(victim / SEGMENT)]?.name,
    lsn: wal.lsn(victim),
    reason: `the record at 0/${wal.lsn(victim).toString(16).toUpperCase()} fails its CRC`,
  });
});

Deno.test("readWalChain takes a torn tail in the newest segment for the end, and zeros before it for a break", async () => {
  const wal = stream(60);
  const last = wal.starts.at(-1) as number;
  // The newest segment ends inside the last record: the one before is the last whole one.
  const torn = await readWalChain(wal.segments(last + 40), SEGMENT);
  strictEqual(torn.broken, undefined);
  strictEqual(torn.lastStart, wal.lsn(wal.starts.at(-2) as number));
  // Zeros from a record on in an older segment: the WAL is cut there.
  const cut = wal.starts[20] as number;
  wal.bytes.fill(0, cut, Math.ceil(cut / SEGMENT) * SEGMENT);
  const broken = await readWalChain(wal.segments(), SEGMENT);
  strictEqual(broken.records < 21, true);
  strictEqual(typeof broken.broken?.reason, "string");
});

Deno.test("readWalChain follows a WAL switch to the next segment and stops after a commit past the target", async () => {
  const wal = new WalWriter(3);
  const t0 = Date.UTC(2026, 11, 3, 14, 5);
  wal.commit(t0);
  wal.switchSegment();
  wal.record(10, 0, new Uint8Array(500));
  wal.commit(t0 + 1000);
  wal.record(10, 0, new Uint8Array(500));
  const whole = await readWalChain(wal.segments(), SEGMENT);
  strictEqual(whole.broken, undefined);
  strictEqual(whole.records, 5);
  strictEqual(whole.lastTime, t0 + 1000);
  const stopped = await readWalChain(wal.segments(), SEGMENT, { stopAfter: t0 + 500 });
  deepStrictEqual([stopped.passedTarget, stopped.records, stopped.lastTime], [true, 4, t0 + 1000]);
});

Deno.test("readWalChain breaks at a record that does not point back at the one before", async () => {
  const wal = new WalWriter(3);
  for (let i = 0; i < 10; i++) wal.record(10, 0, new Uint8Array(100).fill(i));
  // A record from elsewhere (a recycled file's old content): its CRC intact, its link not.
  const victim = wal.starts[6] as number;
  const view = new DataView(wal.bytes.buffer, victim);
  view.setBigUint64(8, 0x42n, true);
  const record = wal.bytes.subarray(victim, victim + view.getUint32(0, true));
  let crc = crc32cUpdate(0xffffffff, record.subarray(24));
  crc = crc32cUpdate(crc, record.subarray(0, 20));
  view.setUint32(20, crc32cFinish(crc), true);
  const chain = await readWalChain(wal.segments(), SEGMENT);
  strictEqual(chain.records, 6);
  strictEqual(
    chain.broken?.reason,
    `the record at 0/${
      wal.lsn(victim).toString(16).toUpperCase()
    } does not follow the one before it`,
  );
});
