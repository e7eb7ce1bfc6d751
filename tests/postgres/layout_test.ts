import { strictEqual } from "node:assert/strict";
import { RunError } from "../../lib/base/errors.ts";
import { appendWal, leftOutOfBackup } from "../../lib/postgres/layout.ts";
import { packTree } from "../../lib/archive/tar_pack.ts";
import { listTree } from "../../lib/archive/walk.ts";
import { fileTarOut, run, tempDir } from "../helpers.ts";

Deno.test("leftOutOfBackup leaves out what pg_basebackup does and keeps the data", () => {
  const out = [
    "postmaster.pid",
    "postmaster.opts",
    "backup_label",
    "tablespace_map",
    "backup_manifest",
    "postgresql.auto.conf.tmp",
    "current_logfiles.tmp",
    "pg_wal",
    "pg_wal/000000010000000000000001",
    "global/pg_control",
    "pg_replslot/s1/state",
    "pg_stat_tmp/global.stat",
    "pg_dynshmem/mmap.1",
    "pg_notify/0000",
    "pg_serial/0000",
    "pg_snapshots/00000003-1",
    "pg_subtrans/0000",
    "base/pgsql_tmp",
    "base/pgsql_tmp/pgsql_tmp123.0",
    "global/pg_internal.init",
    "base/16384/pg_internal.init.1234",
    "base/16384/t3_16390",
    "base/16384/t3_16390_fsm",
    "base/16384/t3_16390.1",
  ];
  const kept = [
    "PG_VERSION",
    "postgresql.conf",
    "postgresql.auto.conf",
    "pg_hba.conf",
    "global",
    "global/1262",
    "pg_replslot",
    "pg_stat_tmp",
    "pg_subtrans",
    "pg_xact/0000",
    "pg_stat/pgstat.stat",
    "base/16384/16390",
    "base/16384/16390_vm",
    "base/16384/t3_16390x",
    "pg_logical/replorigin_checkpoint",
    "log/postgresql.log",
    "pg_wal.backup/1",
  ];
  for (const rel of out) strictEqual(leftOutOfBackup(rel), true, rel);
  for (const rel of kept) strictEqual(leftOutOfBackup(rel), false, rel);
});

const SEGMENT = 8192;
const LOOK = (mode: number) => ({ mode, uid: 0, gid: 0, mtimeMs: Date.UTC(2026, 10, 30) });

/** Packs `src` (its pg_wal left to appendWal) into `tar`; returns how the pack ended. */
async function packWal(src: string, tar: string, segments: string[]): Promise<unknown> {
  using file = await Deno.create(tar);
  const { entries } = await listTree(src, { exclude: (rel) => rel.startsWith("pg_wal") });
  const out = fileTarOut(file);
  try {
    await packTree(entries, "data", out, {
      finish: (append) =>
        appendWal(append, { dir: `${src}/pg_wal`, segments, segmentBytes: SEGMENT, look: LOOK }),
    });
  } catch (err) {
    return err;
  }
  out.end();
  return undefined;
}

Deno.test("appendWal stores the needed segments, their .done markers and the history files", async () => {
  await using dir = await tempDir();
  const wal = `${dir.path}/src/pg_wal`;
  await Deno.mkdir(wal, { recursive: true });
  const names = ["000000020000000000000001", "000000020000000000000002"];
  for (const name of [...names, "000000020000000000000003"]) {
    await Deno.writeFile(
      `${wal}/${name}`,
      new Uint8Array(SEGMENT).fill(name.at(-1)!.charCodeAt(0)),
    );
  }
  await Deno.writeTextFile(
    `${wal}/00000002.history`,
    "1\t0/3000000\tno recovery target specified\n",
  );
  strictEqual(await packWal(`${dir.path}/src`, `${dir.path}/x.tar`, names), undefined);
  const listing = await run("tar", ["-tvf", `${dir.path}/x.tar`]);
  strictEqual(listing.code, 0, listing.stderr);
  const entries = listing.stdout.trim().split("\n").map((l) =>
    `${l.slice(0, 10)} ${l.split(/\s+/).at(-1)}`
  );
  strictEqual(
    entries.join("\n"),
    [
      "drwxr-xr-x data/",
      "drwx------ data/pg_wal/",
      "drwx------ data/pg_wal/archive_status/",
      "-rw-r--r-- data/pg_wal/000000020000000000000001",
      "-rw------- data/pg_wal/archive_status/000000020000000000000001.done",
      "-rw-r--r-- data/pg_wal/000000020000000000000002",
      "-rw------- data/pg_wal/archive_status/000000020000000000000002.done",
      "-rw-r--r-- data/pg_wal/00000002.history",
      "-rw------- data/pg_wal/archive_status/00000002.history.done",
    ].join("\n"),
  );
  const second = await run("tar", ["-xOf", `${dir.path}/x.tar`, `data/pg_wal/${names[1]}`]);
  strictEqual(second.stdout, "2".repeat(SEGMENT));
});

Deno.test("appendWal fails the pack naming a segment that is missing or short", async () => {
  await using dir = await tempDir();
  const wal = `${dir.path}/src/pg_wal`;
  await Deno.mkdir(wal, { recursive: true });
  await Deno.writeFile(`${wal}/000000010000000000000001`, new Uint8Array(SEGMENT));
  await Deno.writeFile(`${wal}/000000010000000000000002`, new Uint8Array(SEGMENT / 2));
  const missing = await packWal(`${dir.path}/src`, `${dir.path}/a.tar`, [
    "000000010000000000000001",
    "000000010000000000000003",
  ]);
  strictEqual(missing instanceof RunError, true, String(missing));
  strictEqual(
    (missing as Error).message,
    `Cannot copy the WAL segment "pg_wal/000000010000000000000003": it is not in "${wal}" any more`,
  );
  const short = await packWal(`${dir.path}/src`, `${dir.path}/b.tar`, ["000000010000000000000002"]);
  strictEqual(short instanceof RunError, true, String(short));
  strictEqual(
    (short as Error).message,
    `Cannot copy the WAL segment "pg_wal/000000010000000000000002": 4096 bytes, expected ${SEGMENT}`,
  );
});
