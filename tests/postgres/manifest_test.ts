import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import { createHash } from "node:crypto";
import { backupManifest, parseBackupLabel, walSegmentNames } from "../../lib/postgres/manifest.ts";
import { parseLsn } from "../../lib/store/wal_names.ts";

const MB16 = 16 * 1024 * 1024;

Deno.test("walSegmentNames spans the start's segment to the one before a stop on a boundary", () => {
  deepStrictEqual(walSegmentNames(1, 0x2000028n, 0x2000100n, MB16), ["000000010000000000000002"]);
  // A stop exactly at a segment's first byte ends in the segment before it, as pg_walfile_name.
  deepStrictEqual(walSegmentNames(1, 0x2000028n, 0x4000000n, MB16), [
    "000000010000000000000002",
    "000000010000000000000003",
  ]);
  deepStrictEqual(
    walSegmentNames(3, 0x2000028n, 0x4000001n, MB16).at(-1),
    "000000030000000000000004",
  );
});

Deno.test("walSegmentNames carries into the next log id after 0xFF segments of 16 MB", () => {
  deepStrictEqual(walSegmentNames(2, parseLsn("0/FF000028"), parseLsn("1/00000100"), MB16), [
    "0000000200000000000000FF",
    "000000020000000100000000",
  ]);
  // 64 MB segments: 64 of them per log id.
  deepStrictEqual(walSegmentNames(1, parseLsn("2/FC000028"), parseLsn("2/FC000100"), 4 * MB16), [
    "00000001000000020000003F",
  ]);
});

Deno.test("walSegmentNames refuses a segment size that is not a power of two, and an empty range", () => {
  throws(() => walSegmentNames(1, 0n, 10n, 3_000_000), {
    name: "RangeError",
    message: 'Cannot use the WAL segment size "3000000": not a power of two',
  });
  throws(() => walSegmentNames(1, 0x100n, 0x100n, MB16), {
    name: "RangeError",
    message: 'Cannot list WAL from "0/100" to "0/100"',
  });
});

Deno.test("parseBackupLabel reads the start location and timeline of a PostgreSQL 15 label", () => {
  const label = "START WAL LOCATION: 0/5000028 (file 000000010000000000000005)\n" +
    "CHECKPOINT LOCATION: 0/5000060\nBACKUP METHOD: streamed\nBACKUP FROM: primary\n" +
    "START TIME: 2026-11-30 00:23:42 UTC\nLABEL: backupd 2026-11-30/00-23-42.tar.gz\n" +
    "START TIMELINE: 4\n";
  deepStrictEqual(parseBackupLabel(label), { start: 0x5000028n, timeline: 4 });
  throws(() => parseBackupLabel("LABEL: x\n"), {
    name: "TypeError",
    message: "Cannot read the backup label: no START WAL LOCATION or START TIMELINE",
  });
});

Deno.test("backupManifest writes version 1 whose Manifest-Checksum covers all before it", () => {
  const text = backupManifest(
    [
      {
        path: "PG_VERSION",
        size: 3,
        mtimeMs: Date.UTC(2026, 10, 30, 0, 18, 39, 999),
        sha256: "a".repeat(64),
      },
      { path: 'base/1/odd "name"', size: 0, mtimeMs: 0, sha256: "b".repeat(64) },
    ],
    { timeline: 1, start: 0x5000028n, end: 0x5000100n },
    { serverMajor: 15, systemIdentifier: "7713752329763326377" },
  );
  const manifest = JSON.parse(text);
  strictEqual(manifest["PostgreSQL-Backup-Manifest-Version"], 1);
  strictEqual("System-Identifier" in manifest, false);
  deepStrictEqual(manifest.Files[0], {
    Path: "PG_VERSION",
    Size: 3,
    "Last-Modified": "2026-11-30 00:18:39 GMT",
    "Checksum-Algorithm": "SHA256",
    Checksum: "a".repeat(64),
  });
  strictEqual(manifest.Files[1].Path, 'base/1/odd "name"');
  deepStrictEqual(manifest["WAL-Ranges"], [
    { Timeline: 1, "Start-LSN": "0/5000028", "End-LSN": "0/5000100" },
  ]);
  // pg_verifybackup hashes everything up to the line holding the checksum.
  const cut = text.lastIndexOf("\n", text.length - 2) + 1;
  strictEqual(text.slice(cut, cut + 20), '"Manifest-Checksum":');
  strictEqual(
    manifest["Manifest-Checksum"],
    createHash("sha256").update(text.slice(0, cut)).digest("hex"),
  );
  strictEqual(text.endsWith('"}\n'), true);
});

Deno.test("backupManifest writes version 2 with the system identifier for PostgreSQL 17", () => {
  const text = backupManifest(
    [{ path: "PG_VERSION", size: 3, mtimeMs: 0, sha256: "c".repeat(64) }],
    { timeline: 1, start: 0x100n, end: 0x200n },
    { serverMajor: 17, systemIdentifier: "7713752329763326377" },
  );
  // The identifier is a JSON number wider than a double: compare its text.
  strictEqual(text.split("\n")[1], '"System-Identifier": 7713752329763326377,');
  strictEqual(JSON.parse(text)["PostgreSQL-Backup-Manifest-Version"], 2);
});
