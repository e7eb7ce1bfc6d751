// Restore drills against a real PostgreSQL 15: a good --postgres archive passes every step
// with its timings; a damaged table file, a false check, the wrong programs, a SIGTERM and a
// killed drill each end as they must, with the scratch folder gone and no TCP port opened.

import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import {
  backupd,
  backupNow,
  daemonPid,
  descendantsOf,
  flipMiddleByte,
  noticeReceiver,
  run,
  signalProcess,
  spawnBackupd,
  spawnDaemon,
  tempDir,
  waitFor,
} from "../helpers.ts";
import { type Cluster, cluster, PASSWORD, startPgbench } from "./local_pg.ts";
import { pgbenchInit } from "./pitr_load.ts";

const decoder = new TextDecoder();

/** The scratch folders of drills in `dir`. */
function scratches(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) =>
    n.startsWith("backupd-drill-scratch-")
  );
}

/** A pgbench cluster of scale 2 and a staff table, backed up once with --postgres. */
async function backedUp(work: string): Promise<{ db: Cluster; dest: string; archive: string }> {
  await Deno.chmod(work, 0o755);
  const db = await cluster(work, `${work}/pgdata`, { checksums: true });
  await db.start();
  await pgbenchInit(db, 2);
  await db.psql(
    "CREATE TABLE staff (id int PRIMARY KEY); INSERT INTO staff SELECT generate_series(1, 500)",
  );
  const dest = `${work}/backup`;
  const load = startPgbench(db, ["-R", "50"]);
  const made = await backupNow(db.data, dest, ["--postgres", db.url], { PGPASSWORD: PASSWORD });
  load.kill("SIGTERM");
  await load.output();
  strictEqual(made.code, 0, made.stderr);
  const archive = /archive=(\S+\.tar\.gz) /.exec(made.stderr)?.[1] as string;
  return { db, dest, archive };
}

Deno.test("a drill of a good --postgres archive passes every step and reports its timings; health follows it", async () => {
  await using work = await tempDir("backupd-drill-good-");
  const { db, dest, archive } = await backedUp(work.path);
  await db.stop();
  const drills = `${work.path}/drills`;
  await Deno.mkdir(drills);
  const before = await backupd(["health", "--dest", dest, "--drill-max-age", "8d"]);
  strictEqual(before.code, 1);
  match(before.stdout, /^unhealthy: no restore drill has passed yet \(--drill-max-age\)/);
  const drill = await backupd([
    "drill",
    "--dest",
    dest,
    "--drill-dir",
    drills,
    "--drill-check",
    "SELECT count(*) = 500 FROM staff",
    "--drill-check",
    "SELECT sum(abalance) = (SELECT coalesce(sum(delta), 0) FROM pgbench_history) FROM pgbench_accounts",
    "--metrics-file",
    `${work.path}/backupd.prom`,
    "--json",
  ]);
  strictEqual(drill.code, 0, drill.stderr);
  const report = JSON.parse(drill.stdout);
  strictEqual(report.result, "passed");
  strictEqual(report.archive, archive);
  for (const step of ["restore", "verify", "start", "amcheck", "checks"]) {
    strictEqual(report.seconds[step] > 0, true, `${step}: ${report.seconds[step]}`);
  }
  strictEqual(
    report.rtoSeconds,
    Number((report.seconds.restore + report.seconds.start).toFixed(3)),
  );
  deepStrictEqual(report.checks.map((c: { ok: boolean }) => c.ok), [true, true]);
  strictEqual(report.bytes.restored > report.bytes.archive, true);
  for (
    const step of [
      "restored",
      "pg_verifybackup passed",
      "started and recovered",
      "pg_amcheck passed",
    ]
  ) {
    match(drill.stderr, new RegExp(`INFO drill: ${step} `));
  }
  deepStrictEqual(scratches(drills), []);
  const metrics = await Deno.readTextFile(`${work.path}/backupd.prom`);
  match(metrics, /^backupd_drill_result 0$/m);
  match(metrics, /^backupd_drill_duration_seconds [1-9]/m);
  strictEqual(
    Number(/^backupd_drill_last_success_timestamp_seconds (\S+)$/m.exec(metrics)?.[1]) * 1000,
    Date.parse(report.ended),
  );
  const after = await backupd(["health", "--dest", dest, "--drill-max-age", "8d"]);
  strictEqual(after.code, 0, after.stdout);
  const listed = await backupd(["list", "--dest", dest]);
  match(listed.stdout, /^ARCHIVE +SIZE +AGE +KIND +WHERE +DRILLED\n.* passed just now\n/);
});

Deno.test("a damaged table file (sidecar recomputed) fails with exit 1 naming it; a false check fails naming the check", async () => {
  await using work = await tempDir("backupd-drill-bad-");
  const { db, dest, archive } = await backedUp(work.path);
  const table = await db.psql("SELECT pg_relation_filepath('pgbench_accounts')");
  await db.stop();
  // Unpack, flip one byte inside the table's file, pack again and write a matching sidecar:
  // only the manifest, the page checksum or amcheck can tell.
  const unpacked = `${work.path}/unpacked`;
  await Deno.mkdir(unpacked);
  strictEqual((await run("tar", ["-xzpf", `${dest}/${archive}`, "-C", unpacked])).code, 0);
  const file = `${unpacked}/pgdata/${table}`;
  await Deno.writeFile(file, flipMiddleByte(await Deno.readFile(file)));
  strictEqual(
    (await run("tar", ["--numeric-owner", "-czf", `${dest}/${archive}`, "-C", unpacked, "pgdata"]))
      .code,
    0,
  );
  const sum = await run("sha256sum", [`${dest}/${archive}`]);
  const name = archive.split("/")[1] as string;
  await Deno.writeTextFile(`${dest}/${archive}.sha256`, `${sum.stdout.split(" ")[0]}  ${name}\n`);
  const damaged = await backupd(["drill", "--dest", dest]);
  strictEqual(damaged.code, 1, damaged.stderr);
  match(damaged.stdout, new RegExp(`^drill FAILED: ${archive}\n`));
  match(
    damaged.stdout,
    new RegExp(`problem: pg_verifybackup failed: checksum mismatch for file "${table}"`),
  );
  match(damaged.stderr, new RegExp(`ERROR drill failed error=.*${table}`));

  await using fresh = await tempDir("backupd-drill-check-");
  const good = await backedUp(fresh.path);
  await good.db.stop();
  const receiver = noticeReceiver();
  const checked = await backupd([
    "drill",
    "--dest",
    good.dest,
    "--notify",
    receiver.url,
    "--drill-check",
    "SELECT count(*) = 500 FROM staff",
    "--drill-check",
    "SELECT count(*) > 1000 FROM staff",
    "--drill-check",
    "SELECT NULL::bool",
    "--drill-check",
    "SELECT count(*) > 0 FROM no_such_table",
  ]);
  strictEqual(checked.code, 1, checked.stderr);
  match(
    checked.stdout,
    /^ {2}check OK: SELECT count\(\*\) = 500 FROM staff -> t \(in database postgres\)$/m,
  );
  match(
    checked.stdout,
    /^ {2}check FAILED: SELECT count\(\*\) > 1000 FROM staff -> f \(in database postgres\)$/m,
  );
  // NULL and an error say so, naming the database they ran in.
  match(checked.stdout, /^ {2}check FAILED: SELECT NULL::bool -> NULL \(in database postgres\)$/m);
  match(
    checked.stdout,
    /^ {2}check FAILED: SELECT count\(\*\) > 0 FROM no_such_table -> an error \(ERROR: {2}relation "no_such_table" does not exist.*\) \(in database postgres\)$/m,
  );
  match(
    checked.stderr,
    /ERROR drill failed error="check \\"SELECT count\(\*\) > 1000 FROM staff\\" in database \\"postgres\\" answered f; /,
  );
  await receiver.close();
  const notice = JSON.parse(receiver.notices[0] as string);
  deepStrictEqual([notice.what, notice.result, notice.archive], [
    "restore drill",
    "failed",
    good.archive,
  ]);
  match(
    notice.error,
    /^check "SELECT count\(\*\) > 1000 FROM staff" in database "postgres" answered f; check "SELECT NULL::bool" in database "postgres" answered NULL; /,
  );
});

Deno.test("a plain archive of a stopped server's folder passes, pg_verifybackup skipped and said so", async () => {
  await using work = await tempDir("backupd-drill-plain-");
  const { db } = await backedUp(work.path);
  await db.stop();
  // The stopped server's folder, copied plainly (no --postgres): no backup_manifest.
  const plain = `${work.path}/plain`;
  const made = await backupNow(db.data, plain, []);
  strictEqual(made.code, 0, made.stderr);
  const drill = await backupd([
    "drill",
    "--dest",
    plain,
    "--drill-check",
    "SELECT count(*) = 500 FROM staff",
  ]);
  strictEqual(drill.code, 0, drill.stderr);
  match(drill.stdout, /^drill PASSED: /);
  match(drill.stdout, /pg_verifybackup skipped\b/);
  match(drill.stdout, /^ {2}pg_verifybackup skipped: a plain archive has no backup_manifest$/m);
  match(
    drill.stderr,
    /INFO drill: pg_verifybackup skipped: a plain archive has no backup_manifest/,
  );
});

Deno.test("no PostgreSQL programs, or another major version: one line, exit 2", async () => {
  await using work = await tempDir("backupd-drill-programs-");
  const { db, dest } = await backedUp(work.path);
  await db.stop();
  const drills = `${work.path}/drills`;
  await Deno.mkdir(drills);
  const empty = `${work.path}/empty-bin`;
  await Deno.mkdir(empty);
  const missing = await backupd([
    "drill",
    "--dest",
    dest,
    "--drill-dir",
    drills,
    "--pg-bin",
    empty,
  ]);
  strictEqual(missing.code, 2, missing.stderr);
  match(
    missing.stderr,
    new RegExp(
      `ERROR drill could not run error="Cannot run the restore drill: no postgres in \\\\"${empty}\\\\" \\(from --pg-bin\\); install PostgreSQL 15's server programs or give --pg-bin"\\n$`,
    ),
  );
  strictEqual(
    missing.stderr.split("\n").filter((l) => / ERROR /.test(l)).length,
    1,
    missing.stderr,
  );
  // A folder whose postgres says it is PostgreSQL 14.
  const other = `${work.path}/pg14-bin`;
  await Deno.mkdir(other);
  for (
    const program of ["postgres", "pg_ctl", "pg_isready", "psql", "pg_amcheck", "pg_verifybackup"]
  ) {
    await Deno.writeTextFile(
      `${other}/${program}`,
      "#!/bin/sh\necho 'postgres (PostgreSQL) 14.11'\n",
    );
    await Deno.chmod(`${other}/${program}`, 0o755);
  }
  const wrong = await backupd(["drill", "--dest", dest, "--drill-dir", drills, "--pg-bin", other]);
  strictEqual(wrong.code, 2, wrong.stderr);
  match(
    wrong.stderr,
    /ERROR drill could not run error="Cannot run the restore drill: the programs in \\".*pg14-bin\\" are PostgreSQL 14, the archive's data folder is PostgreSQL 15 \(PG_VERSION\); give --pg-bin with PostgreSQL 15's"\n$/,
  );
  deepStrictEqual(scratches(drills), []);
  const unscheduled = await backupd(["drill", "--dest", dest, "--scheduled"]);
  strictEqual(unscheduled.code, 2, unscheduled.stderr);
  match(
    unscheduled.stderr,
    /^backupd: Cannot run drills on a schedule: give --drill-schedule \(or BACKUP_DRILL_SCHEDULE\), e\.g\. "0 3 \* \* 0"\n$/,
  );
});

/**
 * The drill process under `child` (`deno task`'s) once its own check's psql runs (a psql
 * of this drill's process tree, not of another drill or test).
 */
async function sleepingCheckOf(child: Deno.ChildProcess, what: string): Promise<number> {
  return await waitFor(what, async () => {
    const psql = (await run("pgrep", ["-f", "bin/psql .*pg_sleep"])).stdout.trim().split("\n")
      .filter((l) => l !== "").map(Number);
    const tree = descendantsOf(child.pid);
    return tree.some((pid) => psql.includes(pid)) ? tree[0] : undefined;
  }, 120);
}

Deno.test("SIGTERM mid-drill stops the server and removes the scratch folder (exit 143); no TCP port was opened; a killed drill's leftovers go with the next", async () => {
  await using work = await tempDir("backupd-drill-term-");
  const { db, dest } = await backedUp(work.path);
  await db.stop();
  const drills = `${work.path}/drills`;
  await Deno.mkdir(drills);
  const slow = ["--drill-dir", drills, "--drill-check", "SELECT pg_sleep(600) IS NOT NULL"];
  const child = spawnBackupd(["drill", "--dest", dest, ...slow]);
  // pg_ctl detaches the server: it is found by its data folder in the scratch folder.
  const serverRuns = async () =>
    (await run("pgrep", ["-f", `${drills}/backupd-drill-scratch-`])).stdout.trim() !== "";
  await waitFor("the drill's server", async () => await serverRuns() || undefined, 120);
  // While the check sleeps: the server listens on no TCP port.
  const drillPid = await sleepingCheckOf(child, "the check to run");
  // Other servers of this machine may listen; the drill's own (found by its folder) do not.
  const pids = (await run("pgrep", ["-f", `${drills}/backupd-drill-scratch-`])).stdout.trim()
    .split("\n");
  strictEqual(pids.length > 0 && pids[0] !== "", true);
  const listening = await run("ss", ["-Hltnp"]);
  strictEqual(listening.code, 0, listening.stderr);
  for (const pid of pids) {
    strictEqual(listening.stdout.includes(`pid=${pid},`), false, listening.stdout);
  }
  signalProcess(drillPid, "SIGTERM");
  const out = await child.output();
  strictEqual(out.code, 143, decoder.decode(out.stderr));
  deepStrictEqual(scratches(drills), []);
  strictEqual(await serverRuns(), false);

  // A drill killed outright leaves its folder and server: the next drill removes both.
  const killed = spawnBackupd(["drill", "--dest", dest, ...slow]);
  const victim = await sleepingCheckOf(killed, "the second drill's check");
  signalProcess(victim, "SIGKILL");
  await killed.output();
  strictEqual(scratches(drills).length, 1);
  const next = await backupd(["drill", "--dest", dest, "--drill-dir", drills]);
  strictEqual(next.code, 0, next.stderr);
  match(
    next.stderr,
    /INFO removed the scratch folder of an interrupted drill path=.*backupd-drill-scratch-/,
  );
  deepStrictEqual(scratches(drills), []);
  strictEqual(await serverRuns(), false);
});

Deno.test("the daemon runs the scheduled drill of the newest archive, and health --drill-max-age follows it", async () => {
  await using work = await tempDir("backupd-drill-daemon-");
  const { db, dest, archive } = await backedUp(work.path);
  await db.stop();
  const drills = `${work.path}/drills`;
  await Deno.mkdir(drills);
  const before = await backupd(["health", "--dest", dest, "--drill-max-age", "1h"]);
  strictEqual(before.code, 1, before.stdout);
  const daemon = spawnDaemon(db.data, dest, [
    "--drill-schedule",
    "*/3 * * * * *",
    "--drill-dir",
    drills,
    "--drill-check",
    "SELECT count(*) = 500 FROM staff",
  ]);
  const pid = await daemonPid(dest);
  const passed = await waitFor("a scheduled drill to pass", async () => {
    const record = JSON.parse(
      await Deno.readTextFile(`${dest}/.backupd/drills.json`).catch(() => "{}"),
    );
    return record.passed?.[archive];
  }, 120);
  const health = await backupd(["health", "--dest", dest, "--drill-max-age", "1h"]);
  strictEqual(health.code, 0, health.stdout);
  signalProcess(pid, "SIGTERM");
  const out = await daemon.output();
  const stderr = decoder.decode(out.stderr);
  strictEqual([0, 143].includes(out.code), true, stderr);
  match(stderr, /INFO restore drills scheduled schedule="\*\/3 \* \* \* \* \*"/);
  match(stderr, /INFO drill: check passed check="SELECT count\(\*\) = 500 FROM staff"/);
  strictEqual(Date.parse(passed) <= Date.now(), true);
  deepStrictEqual(scratches(drills), []);
});
