// WAL archiving when things go wrong, against a real PostgreSQL 15 under load: backupd
// killed for two minutes, the server restarted, the slot dropped by hand, DEST full; and
// recovery targets that cannot be reached, refused before anything is written.

import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import {
  backupd,
  listFiles,
  noticeReceiver,
  run,
  signalProcess,
  tempDir,
  waitFor,
} from "../helpers.ts";
import { asPostgres, type Cluster, mustRun, startPgbench } from "./local_pg.ts";
import {
  baseRecorded,
  caughtUpAfter,
  checkConsistent,
  crash,
  loadedCluster,
  type Marker,
  markerKey,
  markerKeys,
  socketSql,
  startCheckpoints,
  startMarkers,
  startRecovered,
  type WalDaemon,
  walDaemon,
  walState,
} from "./pitr_load.ts";
import { parseLsn } from "../../lib/store/wal_names.ts";

async function slotRestart(db: Cluster): Promise<string> {
  return await db.psql("SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = 'backupd'");
}

Deno.test("backupd killed for two minutes under load leaves no gap: the slot held the WAL; a server restart mid-cycle is resumed; the end restores", async () => {
  await using work = await tempDir("backupd-pitr-kill-");
  const db = await loadedCluster(work.path, 2);
  const dest = `${work.path}/backup`;
  let daemon = await walDaemon(db, dest, { interval: "1s", extra: ["--run-on-start"] });
  await baseRecorded(dest);
  const pgbench = startPgbench(db, ["-R", "100"]);
  let checkpoints = startCheckpoints(db);
  let markers = startMarkers(db);
  const acks: Marker[] = [];
  let crashedAt = 0;
  try {
    await waitFor("50 markers", () => markers.acks.length >= 50 || undefined);
    signalProcess(daemon.pid, "SIGKILL");
    await daemon.child.output();
    const held = await slotRestart(db);
    const killedAt = Date.now();
    // Two minutes without backupd: the slot must not move, and the server keeps the WAL.
    while (Date.now() - killedAt < 120_000) {
      strictEqual(await slotRestart(db), held);
      await new Promise((r) => setTimeout(r, 5000));
    }
    const walBytes = await db.psql(
      "SELECT pg_current_wal_lsn() - restart_lsn FROM pg_replication_slots WHERE slot_name = 'backupd'",
    );
    daemon = await walDaemon(db, dest, { interval: "1s" });
    await caughtUpAfter(dest, Date.now(), 120);
    const listed = JSON.parse((await backupd(["list", "--dest", dest, "--json"])).stdout);
    deepStrictEqual(listed.pitr.gaps, []);
    console.log(`the slot held ${walBytes} bytes of WAL over two minutes without backupd`);

    // The server restarted while a cycle may be going: archiving picks up after it.
    await markers.stop();
    acks.push(...markers.acks);
    await checkpoints.stop();
    await mustRun(
      asPostgres("pg_ctl", "-D", db.data, "-l", `${db.data}.log`, "-m", "fast", "-w", "restart"),
      "restart",
    );
    checkpoints = startCheckpoints(db);
    markers = startMarkers(db);
    await waitFor("50 markers after the restart", () => markers.acks.length >= 50 || undefined);
    await caughtUpAfter(dest, (markers.acks.at(-1) as Marker).acked);
    strictEqual((await walState(dest)).problem, undefined);
  } finally {
    await checkpoints.stop();
    await markers.stop();
    acks.push(...markers.acks);
    crashedAt = Date.now();
    await crash(db);
    await pgbench.output();
  }
  const log = await daemon.stop();
  strictEqual(/ ERROR the replication slot| ERROR WAL segments/.test(log), false, log);
  await db.stop();
  const into = `${work.path}/restored`;
  const restored = await backupd(["restore", "--dest", dest, "--to-time", "latest", "--to", into]);
  strictEqual(restored.code, 0, restored.stderr);
  const copy = await startRecovered(work.path, into);
  try {
    await checkConsistent(copy, "after the kill");
    const keys = await markerKeys(copy);
    // The crash at the end may take the last interval (1 s) with it, no more.
    const due = acks.filter((m) => m.acked < crashedAt - 3000);
    deepStrictEqual(due.map(markerKey).filter((k) => !keys.has(k)), []);
  } finally {
    await copy.stop();
  }
});

Deno.test("the slot dropped by hand: one ERROR, unhealthy, notified; the next base backup makes point-in-time recovery whole again", async () => {
  await using work = await tempDir("backupd-pitr-slot-");
  const db = await loadedCluster(work.path, 2);
  const dest = `${work.path}/backup`;
  const receiver = noticeReceiver();
  const notices = receiver.notices;
  await using daemon = await walDaemon(db, dest, {
    interval: "1s",
    extra: [
      "--run-on-start",
      "--notify",
      receiver.url,
    ],
  });
  const sql = socketSql(db);
  try {
    await baseRecorded(dest);
    await caughtUpAfter(dest, Date.now());
    strictEqual((await backupd(["health", "--dest", dest])).code, 0);
    await sql`SELECT pg_drop_replication_slot('backupd')`;
    for (let i = 0; i < 3; i++) {
      await sql`CREATE TABLE IF NOT EXISTS filler AS SELECT generate_series(1, 100000) AS n`;
      await sql`DROP TABLE filler`;
      await sql`SELECT pg_switch_wal()`;
      await sql`CHECKPOINT`;
    }
    const unhealthy = await waitFor("health to turn unhealthy", async () => {
      const health = await backupd(["health", "--dest", dest]);
      return health.code === 1 ? health.stdout : undefined;
    });
    match(
      unhealthy,
      /^unhealthy: point-in-time recovery is broken since .*; the next base backup makes it whole again/,
    );
    await waitFor("the notification", () => notices.length > 0 || undefined);
    match(
      JSON.parse(notices[0] as string).error,
      /^WAL archiving: the replication slot "backupd" is gone/,
    );
    strictEqual(await slotRestart(db) !== "", true, "the slot is made again");
    signalProcess(daemon.pid, "SIGUSR1");
    await baseRecorded(dest, 2);
    let last = "";
    await waitFor("health to be healthy again", async () => {
      const health = await backupd(["health", "--dest", dest]);
      last = health.stdout;
      return health.code === 0 || undefined;
    }).catch((err) => {
      throw new Error(`${err.message}: ${last}`);
    });
    // Retention keeping the newest base removes the WAL before it, and the older base's record.
    await caughtUpAfter(dest, Date.now());
    const before = JSON.parse((await backupd(["list", "--dest", dest, "--json"])).stdout).pitr;
    strictEqual(before.bases.length, 2);
    const dry = await backupd(["prune", "--dest", dest, "--keep-last", "1", "--dry-run"]);
    strictEqual(dry.code, 0, dry.stderr);
    match(
      dry.stdout,
      /^would remove \d+ WAL files, wal\/[0-9A-F]{24}\S* to wal\/[0-9A-F]{24}\S* {2}\(they begin before the oldest kept base backup\)$/m,
    );
    const pruned = await backupd(["prune", "--dest", dest, "--keep-last", "1"]);
    strictEqual(pruned.code, 0, pruned.stderr);
    match(pruned.stdout, /^removed \d+ WAL files, /m);
    const after = JSON.parse((await backupd(["list", "--dest", dest, "--json"])).stdout).pitr;
    deepStrictEqual(after.bases, [before.bases[1]]);
    const floor = Number(parseLsn(after.bases[0].startLsn) / 0x1000000n);
    const left = (await listFiles(`${dest}/wal`)).filter((f) => /^[0-9A-F]{24}\./.test(f));
    const segnos = left.map((f) => parseInt(f.slice(16, 24), 16));
    strictEqual(segnos.every((n) => n >= floor), true, `${left.join(",")} (floor ${floor})`);
  } finally {
    await sql.end();
    const log = await daemon.stop();
    strictEqual(log.match(/ ERROR the replication slot "backupd" is gone/g)?.length, 1, log);
    await receiver.close();
    await db.stop();
  }
});

Deno.test("DEST full: one ERROR, the slot never moves past what is stored, and archiving resumes when there is room", async () => {
  await using work = await tempDir("backupd-pitr-full-");
  const db = await loadedCluster(work.path, 2);
  const dest = `${work.path}/backup`;
  await Deno.mkdir(dest);
  await mustRun(["mount", "-t", "tmpfs", "-o", "size=96m", "tmpfs", dest], "mount");
  const sql = socketSql(db);
  let daemon: WalDaemon | undefined;
  try {
    daemon = await walDaemon(db, dest, { interval: "1s", extra: ["--run-on-start"] });
    await baseRecorded(dest);
    await caughtUpAfter(dest, Date.now());
    // Fill DEST up but for 256 KiB: the state files still fit, a segment does not.
    const avail = Number(
      (await run("df", ["-B1024", "--output=avail", dest])).stdout.split("\n")[1],
    );
    await mustRun(
      ["dd", "if=/dev/zero", `of=${dest}/filler`, "bs=1024", `count=${avail - 256}`],
      "dd",
    );
    const held = await slotRestart(db);
    for (let i = 0; i < 3; i++) {
      await sql`CREATE TABLE IF NOT EXISTS filler AS SELECT generate_series(1, 200000) AS n`;
      await sql`DROP TABLE filler`;
      await sql`SELECT pg_switch_wal()`;
    }
    const unhealthy = await waitFor("health to turn unhealthy", async () => {
      const health = await backupd(["health", "--dest", dest]);
      return health.code === 1 ? health.stdout : undefined;
    });
    match(unhealthy, /^unhealthy: WAL archiving fails: .*(No space left|os error 28)/);
    // Over the next five cycles (1 s each) the slot keeps holding what could not be stored.
    const watched = Date.now();
    while (Date.now() - watched < 5000) {
      strictEqual(await slotRestart(db), held);
      await new Promise((r) => setTimeout(r, 500));
    }
    await Deno.remove(`${dest}/filler`);
    const freed = Date.now();
    await caughtUpAfter(dest, freed);
    strictEqual((await walState(dest)).problem, undefined);
    strictEqual(await slotRestart(db) !== held, true, "the slot moves again");
    const log = await daemon.stop();
    daemon = undefined;
    strictEqual(log.match(/ ERROR WAL archiving failed/g)?.length, 1, log);
    match(log, /INFO WAL archiving works again/);
    const listed = JSON.parse((await backupd(["list", "--dest", dest, "--json"])).stdout);
    deepStrictEqual(listed.pitr.gaps, []);
    strictEqual(
      (await listFiles(dest)).some((f) => f.endsWith(".partial") && f.startsWith("wal/.")),
      false,
    );
  } finally {
    await sql.end();
    await daemon?.stop().catch(() => undefined);
    await db.stop();
    await run("umount", [dest]);
  }
});

Deno.test("recovery targets that cannot be reached end in one line, exit 2, DIR untouched: before the oldest base, in the future, newer than the WAL, behind a gap", async () => {
  await using work = await tempDir("backupd-pitr-bounds-");
  const db = await loadedCluster(work.path, 2);
  const dest = `${work.path}/backup`;
  await using daemon = await walDaemon(db, dest, { interval: "1s", extra: ["--run-on-start"] });
  const sql = socketSql(db);
  const switches: number[] = [];
  try {
    await baseRecorded(dest);
    for (let i = 0; i < 4; i++) {
      await sql`INSERT INTO markers (at) VALUES (clock_timestamp())`;
      switches.push(Date.now());
      await sql`SELECT pg_switch_wal()`;
      await new Promise((r) => setTimeout(r, 50));
    }
    await caughtUpAfter(dest, Date.now());
  } finally {
    await sql.end();
    await daemon.stop();
    await db.stop();
  }
  const into = `${work.path}/into`;
  await Deno.mkdir(into);
  const pitr = JSON.parse((await backupd(["list", "--dest", dest, "--json"])).stdout).pitr;
  const started = Date.parse(pitr.bases[0].started);
  const refused = async (when: string, message: RegExp) => {
    const result = await backupd(["restore", "--dest", dest, "--to-time", when, "--to", into]);
    strictEqual(result.code, 2, result.stderr);
    match(result.stderr, message);
    strictEqual(result.stderr.trim().split("\n").length, 1, result.stderr);
    deepStrictEqual([...Deno.readDirSync(into)], []);
  };
  await refused(
    new Date(started - 60_000).toISOString(),
    /^backupd: Cannot recover to .*: it is older than the oldest base backup, which ended at /,
  );
  await refused(new Date(Date.now() + 3_600_000).toISOString(), /: it is in the future\n$/);
  const lastArchived = Date.parse((await walState(dest)).lastArchived);
  await waitFor(
    "a second after the last WAL stored",
    () => Date.now() > lastArchived + 1500 || undefined,
  );
  await refused(
    new Date(lastArchived + 1000).toISOString(),
    /: it is newer than the archived WAL, which reaches .*; give --to-time latest for all of it\n$/,
  );
  // A segment lost from DEST between the markers: the end and the times after it are gone.
  const segments = (await listFiles(dest)).filter((f) => /^wal\/[0-9A-F]{24}\.gz$/.test(f)).sort();
  const lost = segments.at(-2) as string;
  await Deno.remove(`${dest}/${lost}`);
  await Deno.remove(`${dest}/${lost}.sha256`);
  const name = lost.slice(4, 28);
  await refused("latest", new RegExp(`the WAL segment ${name} is missing \\(a gap\\)`));
  await refused(
    new Date(switches.at(-1) as number).toISOString(),
    new RegExp(`the WAL segment ${name} is missing \\(a gap\\); the latest time before it is `),
  );
  // A time before the gap is still reached.
  const ok = await backupd([
    "restore",
    "--dest",
    dest,
    "--to-time",
    new Date((switches[0] as number) + 10).toISOString(),
    "--to",
    into,
  ]);
  strictEqual(ok.code, 0, ok.stderr);
  match(await Deno.readTextFile(`${into}/postgresql.auto.conf`), /recovery_target_time = '/);
  strictEqual((await Deno.stat(`${into}/recovery.signal`)).isFile, true);
});
