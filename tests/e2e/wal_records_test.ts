// The WAL reader against PostgreSQL's own pg_waldump: on segments written under pgbench
// load with checkpoints (full-page images, records across pages and across segments), every
// commit and abort pg_waldump lists is found with the same time, and a recycled or foreign
// file is refused.

import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { run, tempDir } from "../helpers.ts";
import { cluster, PG_BIN, startPgbench } from "./local_pg.ts";
import { pgbenchInit, socketSql } from "./pitr_load.ts";
import { segmentProblem, walTimes } from "../../lib/postgres/wal_records.ts";
import { parseSegmentName, segmentStart } from "../../lib/store/wal_names.ts";

const MB16 = 16 * 1024 * 1024;

/** pg_waldump's transaction ends in a segment: count, first and last time (Unix ms). */
async function waldumpEnds(dir: string, segment: string) {
  const dump = await run(`${PG_BIN}/pg_waldump`, ["-p", dir, "-r", "Transaction", segment]);
  const times = [
    ...dump.stdout.matchAll(/desc: (?:COMMIT|ABORT) (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) UTC/g),
  ]
    .map((m) => Date.parse(`${(m[1] as string).replace(" ", "T").slice(0, 23)}Z`));
  return { ends: times.length, first: times[0], last: times.at(-1) };
}

Deno.test("walTimes finds every commit and abort pg_waldump finds, with the same times, in each segment", async () => {
  await using work = await tempDir("backupd-wal-records-");
  await Deno.chmod(work.path, 0o755);
  const db = await cluster(work.path, `${work.path}/pgdata`, { checksums: true });
  await db.start();
  const sql = socketSql(db);
  try {
    // A slot keeps every segment from here on for the comparison.
    await sql`SELECT pg_create_physical_replication_slot('keep', true, false)`;
    await pgbenchInit(db, 2);
    const load = startPgbench(db, ["-R", "300"]);
    // Aborts, wide rows that span pages, and checkpoints for full-page images.
    await sql`CREATE TABLE wide (t text)`;
    for (let i = 0; i < 40; i++) {
      await sql`INSERT INTO wide SELECT repeat(md5(random()::text), 400) FROM generate_series(1, 20)`;
      await sql.begin(async (tx) => {
        await tx`INSERT INTO wide VALUES ('rolled back')`;
        throw new Error("roll back");
      }).catch(() => undefined);
      if (i % 10 === 0) await sql`CHECKPOINT`;
      if (i % 13 === 0) await sql`SELECT pg_switch_wal()`;
    }
    load.kill("SIGTERM");
    await load.output();
    await sql`SELECT pg_switch_wal()`;
    await sql`CHECKPOINT`;
    const current = await db.psql("SELECT pg_walfile_name(pg_current_wal_lsn())");
    const dir = `${db.data}/pg_wal`;
    const segments = [...Deno.readDirSync(dir)].map((e) => e.name)
      .filter((n) => /^[0-9A-F]{24}$/.test(n) && n < current).sort();
    strictEqual(segments.length >= 3, true, segments.join(","));
    let total = 0;
    let continued = 0;
    for (const name of segments) {
      const bytes = await Deno.readFile(`${dir}/${name}`);
      const id = parseSegmentName(name, MB16);
      if (!id) throw new Error(name);
      const start = segmentStart(id.segno, MB16);
      if (segmentProblem(bytes, start, MB16)) continue; // recycled, not written yet
      const ours = walTimes(bytes, start);
      const theirs = await waldumpEnds(dir, name);
      deepStrictEqual(
        { ends: ours.ends, first: ours.first, last: ours.last },
        { ends: theirs.ends, first: theirs.first, last: theirs.last },
        name,
      );
      total += ours.ends;
      // xlp_info's first bit: the segment opens with the tail of a record begun before it.
      if (((bytes[2] as number) & 1) === 1) continued++;
    }
    strictEqual(total > 100, true, `${total} transaction ends`);
    strictEqual(continued > 0, true, "a segment that opens inside a record");
    // A segment under another name is refused: its first page is for another place.
    const first = await Deno.readFile(`${dir}/${segments[0]}`);
    const other = parseSegmentName(segments[0] as string, MB16)?.segno as number;
    strictEqual(
      segmentProblem(first, segmentStart(other + 1, MB16), MB16)?.startsWith(
        "its first page is for another place in the WAL",
      ),
      true,
    );
  } finally {
    await sql.end();
    await db.stop();
  }
});
