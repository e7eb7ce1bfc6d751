// Point-in-time recovery never opens short: against a real PostgreSQL 15, zstd WAL that
// rotted on DEST's disk and WAL damaged before it was packed (its sidecar consistent) are
// refused by restore, drill and verify, naming the file; intact WAL opens with every
// commit, and WAL cut short after the check is refused by PostgreSQL itself. Restores
// beside a daemon that archives every second under load all succeed.

import { createHash } from "node:crypto";
import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import { backupd, listFiles, run, tempDir, waitFor } from "../helpers.ts";
import { cluster, startPgbench } from "./local_pg.ts";
import {
  baseRecorded,
  caughtUpAfter,
  checkConsistent,
  loadedCluster,
  socketSql,
  startCheckpoints,
  startRecovered,
  walDaemon,
} from "./pitr_load.ts";
import { packWal, unpackWal } from "../../lib/codec/wal_codec.ts";
import { parseStoredWal } from "../../lib/store/wal_names.ts";

const MB16 = 16 * 1024 * 1024;

/** The stored whole segments of DEST, oldest first. */
async function storedSegments(dest: string): Promise<string[]> {
  return (await listFiles(`${dest}/wal`))
    .filter((f) => parseStoredWal(f, MB16)?.kind === "segment").sort();
}

/** A copy of DEST to damage. */
async function copyOf(dest: string, to: string): Promise<string> {
  strictEqual((await run("cp", ["-a", dest, to])).code, 0);
  return to;
}

/** The markers a restored copy holds, by id. */
async function markerIds(work: string, folder: string): Promise<number[]> {
  const copy = await startRecovered(work, folder);
  try {
    await checkConsistent(copy, folder);
    return (await copy.psql("SELECT id FROM markers ORDER BY id")).split("\n").map(Number);
  } finally {
    await copy.stop();
  }
}

/** What a refused restore must look like: exit 1, one ERROR line naming `what`, DIR absent. */
async function refused(dest: string, when: string, into: string, what: RegExp): Promise<void> {
  const out = await backupd(["restore", "--dest", dest, "--to-time", when, "--to", into]);
  strictEqual(out.code, 1, out.stderr);
  const errors = out.stderr.split("\n").filter((l) => / ERROR /.test(l));
  strictEqual(errors.length, 1, out.stderr);
  match(errors[0] as string, what);
  strictEqual(/unexpected error|\n\s+at /.test(out.stderr), false, out.stderr);
  strictEqual(await Deno.stat(into).then(() => true, () => false), false, `${into} is left`);
}

/** A copy of DEST whose `file` holds a flipped byte inside a record, repacked, sidecar new. */
async function damageInside(dest: string, to: string, file: string): Promise<string> {
  const copy = await copyOf(dest, to);
  const wal = await unpackWal(await Deno.readFile(`${copy}/wal/${file}`), "zstd", []);
  // Inside a record in the middle of the segment (not a page header).
  const inside = 8 * 1024 * 1024 + 1000;
  wal[inside] = (wal[inside] as number) ^ 0x20;
  const repacked = await packWal(wal, "zstd", []);
  await Deno.writeFile(`${copy}/wal/${file}`, repacked);
  const sha = createHash("sha256").update(repacked).digest("hex");
  await Deno.writeTextFile(`${copy}/wal/${file}.sha256`, `${sha}  ${file}\n`);
  return copy;
}

Deno.test("restore --to-time refuses rotten or damaged WAL in one line naming it, exit 1; intact WAL opens with every commit; WAL cut short is refused by PostgreSQL", async () => {
  await using work = await tempDir("backupd-pitr-checks-");
  const db = await loadedCluster(work.path, 1);
  const dest = `${work.path}/backup`;
  const markers: number[] = [];
  const times: number[] = [];
  {
    await using daemon = await walDaemon(db, dest, {
      interval: "1s",
      extra: ["--run-on-start", "--compression", "zstd"],
    });
    await baseRecorded(dest);
    await db.psql("CREATE TABLE bulk (t text)");
    // Seven markers, each followed by enough WAL to fill most of a segment.
    for (let i = 0; i < 7; i++) {
      const row = await db.psql(
        "INSERT INTO markers (at) VALUES (clock_timestamp()) RETURNING id || ',' || (extract(epoch FROM at) * 1000)::float8",
      );
      // psql prints the command's tag after the row.
      const [id, at] = (row.split("\n")[0] as string).split(",").map(Number);
      markers.push(id as number);
      times.push(at as number);
      await db.psql("INSERT INTO bulk SELECT md5(g::text) FROM generate_series(1, 120000) g");
    }
    await caughtUpAfter(dest, Date.now());
    await daemon.stop();
  }
  await db.stop();
  const segments = await storedSegments(dest);
  strictEqual(segments.length >= 6, true, segments.join(","));
  // The files are written with zstd's content checksum (the frame descriptor's bit 2).
  const first = await Deno.readFile(`${dest}/wal/${segments[0]}`);
  strictEqual(((first[4] as number) & 0x04) !== 0, true, "no zstd content checksum");

  // Intact: every marker, and recovery bound to the last whole record.
  const verified = await backupd(["verify", "--dest", dest, "--with-wal"]);
  strictEqual(verified.code, 0, verified.stdout + verified.stderr);
  match(verified.stdout, /^OK WAL: .* \d+ records chained with their CRCs$/m);
  const intact = `${work.path}/intact`;
  const ok = await backupd(["restore", "--dest", dest, "--to-time", "latest", "--to", intact]);
  strictEqual(ok.code, 0, ok.stderr);
  match(
    ok.stderr,
    /INFO recovery is set up.* stop="after the last whole record at [0-9A-F]+\/[0-9A-F]+"/,
  );
  const auto = await Deno.readTextFile(`${intact}/postgresql.auto.conf`);
  match(auto, /^recovery_target_lsn = '[0-9A-F]+\/[0-9A-F]+'$/m);
  match(auto, /^recovery_target_inclusive = 'on'$/m);
  deepStrictEqual(await markerIds(work.path, intact), markers);

  // Cut short after the check: PostgreSQL refuses to open rather than open short.
  const short = `${work.path}/short`;
  strictEqual(
    (await backupd(["restore", "--dest", dest, "--to-time", "latest", "--to", short])).code,
    0,
  );
  const placed = [...Deno.readDirSync(`${short}/pg_wal`)].map((e) => e.name)
    .filter((n) => /^[0-9A-F]{24}$/.test(n)).sort();
  for (const name of placed.slice(-2)) await Deno.remove(`${short}/pg_wal/${name}`);
  // pg_ctl returns at read-only connections; the end of recovery decides.
  const copy = await cluster(work.path, short);
  await run(copy.startWords[0] as string, copy.startWords.slice(1));
  const ended = await waitFor("the short recovery to end", async () => {
    const log = await Deno.readTextFile(`${short}.log`);
    return /FATAL:|database system is ready to accept connections/.exec(log)?.[0];
  }, 120);
  await copy.stop();
  strictEqual(ended, "FATAL:", "PostgreSQL opened on WAL cut short");
  match(
    await Deno.readTextFile(`${short}.log`),
    /FATAL: {2}recovery ended before configured recovery target was reached/,
  );

  // Rot on DEST's disk, the sidecar untouched: named by its sha256 before it is used.
  const middle = segments[Math.floor(segments.length / 2)] as string;
  const rotten = await copyOf(dest, `${work.path}/rotten`);
  const stored = await Deno.readFile(`${rotten}/wal/${middle}`);
  const at = Math.floor(stored.length / 2);
  stored[at] = (stored[at] as number) ^ 0x20;
  await Deno.writeFile(`${rotten}/wal/${middle}`, stored);
  await refused(rotten, "latest", `${work.path}/r1`, new RegExp(`wal/${middle}.*sha256`));
  const rotVerify = await backupd(["verify", "--dest", rotten, "--with-wal"]);
  strictEqual(rotVerify.code, 2, rotVerify.stdout);
  match(rotVerify.stdout, new RegExp(`^FAILED wal/${middle}: .*sha256`, "m"));

  // Damaged before it was packed, its sidecar consistent with it: the chain breaks there.
  const damaged = await damageInside(dest, `${work.path}/damaged`, middle);
  const segment = middle.replace(/\.zst$/, "");
  await refused(
    damaged,
    "latest",
    `${work.path}/r2`,
    new RegExp(
      `Cannot recover to the end of the WAL: the WAL breaks in segment ${segment} \\(.*\\); the latest time before it is \\d{4}-`,
    ),
  );
  const damagedVerify = await backupd(["verify", "--dest", damaged, "--with-wal"]);
  strictEqual(damagedVerify.code, 2, damagedVerify.stdout);
  match(damagedVerify.stdout, new RegExp(`^FAILED wal/${middle}: the WAL breaks here: `, "m"));
  const drilled = await backupd(["drill", "--dest", damaged, "--to-time", "latest"]);
  strictEqual(drilled.code, 1, drilled.stdout + drilled.stderr);
  match(drilled.stdout, new RegExp(`problem: .*the WAL breaks in segment ${segment}`));
  // A moment before the damage still recovers: recovery stops at the first commit after it.
  const late = await damageInside(dest, `${work.path}/late`, segments.at(-1) as string);
  const early = `${work.path}/early`;
  // Just before marker 2's insert: markers 0 and 1 and their bulk rows are committed.
  const when = new Date((times[2] as number) - 1).toISOString();
  const before = await backupd(["restore", "--dest", late, "--to-time", when, "--to", early]);
  strictEqual(before.code, 0, before.stderr);
  deepStrictEqual(await markerIds(work.path, early), markers.slice(0, 2));
  await refused(late, "latest", `${work.path}/r3`, /the WAL breaks in segment/);
});

Deno.test("20 restores --to-time latest in a row beside a daemon archiving every second under load all succeed", async () => {
  await using work = await tempDir("backupd-pitr-beside-");
  const db = await loadedCluster(work.path, 1);
  const dest = `${work.path}/backup`;
  await using daemon = await walDaemon(db, dest, { interval: "1s", extra: ["--run-on-start"] });
  await baseRecorded(dest);
  const pgbench = startPgbench(db, ["-R", "100"]);
  const checkpoints = startCheckpoints(db);
  // A segment completes every few seconds: partial copies become whole segments often.
  const sql = socketSql(db);
  let switching = true;
  const switches = (async () => {
    while (switching) {
      await sql`SELECT pg_switch_wal()`;
      await new Promise((r) => setTimeout(r, 3000));
    }
  })();
  const codes: number[] = [];
  try {
    await waitFor(
      "a partial copy",
      async () =>
        (await listFiles(`${dest}/wal`)).some((f) => f.includes(".partial.")) || undefined,
    );
    for (let i = 0; i < 20; i++) {
      const into = `${work.path}/r${i}`;
      const out = await backupd(["restore", "--dest", dest, "--to-time", "latest", "--to", into]);
      codes.push(out.code);
      strictEqual(out.code, 0, `restore ${i + 1}: ${out.stderr}`);
      match(out.stderr, /INFO recovery is set up/);
      if (i < 19) await Deno.remove(into, { recursive: true });
    }
  } finally {
    switching = false;
    await switches;
    await checkpoints.stop();
    pgbench.kill("SIGTERM");
    await pgbench.output();
    await sql.end({ timeout: 1 });
  }
  deepStrictEqual(codes, Array(20).fill(0));
  await daemon.stop();
  await db.stop();
  // The last one opens, consistent.
  const copy = await startRecovered(work.path, `${work.path}/r19`);
  try {
    await checkConsistent(copy, "beside the daemon");
  } finally {
    await copy.stop();
  }
});
