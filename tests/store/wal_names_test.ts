import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import {
  backupRecordName,
  formatLsn,
  parseHistory,
  parseLsn,
  parseSegmentName,
  parseStoredWal,
  segmentName,
  storedWalName,
} from "../../lib/store/wal_names.ts";

const MB16 = 16 * 1024 * 1024;

Deno.test("parseLsn and formatLsn read and write PostgreSQL's X/Y in upper-case hex", () => {
  strictEqual(parseLsn("0/2000028"), 0x2000028n);
  strictEqual(parseLsn("1A/FF000000"), (0x1an << 32n) | 0xff000000n);
  strictEqual(formatLsn(0x2000028n), "0/2000028");
  strictEqual(formatLsn((0x1an << 32n) | 0xabcn), "1A/ABC");
  strictEqual(formatLsn(parseLsn("16/b374d848")), "16/B374D848");
});

Deno.test("parseLsn refuses anything but X/Y with a TypeError naming the text", () => {
  for (const bad of ["", "0", "0/", "x/1", "0/2000028/1", "123456789/0"]) {
    throws(() => parseLsn(bad), {
      name: "TypeError",
      message: `Cannot read the WAL location "${bad}": expected X/Y in hex`,
    });
  }
});

Deno.test("segment names carry into the next log id, and read back, for 16 MB and 64 MB segments", () => {
  for (const size of [MB16, 4 * MB16]) {
    const perId = 0x100000000 / size;
    for (const segno of [0, 1, perId - 1, perId, 5 * perId + 3]) {
      const name = segmentName(7, segno, size);
      deepStrictEqual(parseSegmentName(name, size), { timeline: 7, segno });
    }
  }
  strictEqual(segmentName(1, 0xff, MB16), "0000000100000000000000FF");
  strictEqual(segmentName(1, 0x100, MB16), "000000010000000100000000");
  // 0x100 is no segment's low part with 16 MB segments: not a name PostgreSQL writes.
  strictEqual(parseSegmentName("000000010000000000000100", MB16), undefined);
  strictEqual(parseSegmentName("00000001000000000000000g", MB16), undefined);
});

Deno.test("stored WAL names read back to their kind, timeline and segment; other names are not ours", () => {
  const seg = storedWalName("00000002000000010000000A", "zstd", true);
  strictEqual(seg, "00000002000000010000000A.zst.age");
  deepStrictEqual(parseStoredWal(seg, MB16), {
    kind: "segment",
    wal: "00000002000000010000000A",
    timeline: 2,
    segno: 0x10a,
    compression: "zstd",
    encrypted: true,
    file: seg,
  });
  deepStrictEqual(parseStoredWal("000000010000000000000004.partial.gz", MB16)?.kind, "partial");
  deepStrictEqual(
    parseStoredWal("000000010000000000000004.partial.gz", MB16)?.wal,
    "000000010000000000000004.partial",
  );
  const record = backupRecordName(1, 0x4000028n, MB16);
  strictEqual(record, "000000010000000000000004.00000028.backup");
  deepStrictEqual(parseStoredWal(record, MB16)?.kind, "backup");
  for (
    const other of [
      "000000010000000000000004",
      "000000010000000000000004.gz.sha256",
      ".000000010000000000000004.gz.partial",
      "00000002.history",
      "000000010000000000000004.00000028.backup.gz",
      "lost+found",
    ]
  ) {
    strictEqual(parseStoredWal(other, MB16), undefined, other);
  }
});

Deno.test("a timeline history file reads as its parents and switch points, comments skipped", () => {
  deepStrictEqual(
    parseHistory(
      "1\t0/3000100\tbefore 2026-12-03 14:05:00+00\n\n2\t1/A0000000\tno recovery target specified\n",
    ),
    [{ parent: 1, switchpoint: 0x3000100n }, { parent: 2, switchpoint: 0x1a0000000n }],
  );
});
