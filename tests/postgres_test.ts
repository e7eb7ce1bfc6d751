import { strictEqual } from "node:assert/strict";
import { describeServer, leftOutOfBackup } from "../lib/postgres.ts";

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

Deno.test("describeServer names host, port, database and user but never the password", () => {
  strictEqual(describeServer("postgres://app:s3cret@db:5433/shop"), "db:5433/shop as app");
  strictEqual(describeServer("postgresql://db/shop"), "db:5432/shop as the default user");
  strictEqual(describeServer("postgres://a%40b:x@db"), "db:5432/ as a@b");
});
