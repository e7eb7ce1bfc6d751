// Online backups through PostgreSQL's backup API against a real local PostgreSQL 15: under
// pgbench load with checkpoints, every archive restores, verifies, starts and is consistent;
// bad input and a lost session end in one line with nothing left behind on either side.

import { match, strictEqual } from "node:assert/strict";
import {
  backupd,
  backupNow,
  daemonPid,
  freePort,
  listFiles,
  noticeReceiver,
  run,
  signalProcess,
  spawnBackupd,
  spawnDaemon,
  tempDir,
  waitFor,
} from "../helpers.ts";
import {
  asPostgres,
  type Cluster,
  cluster,
  mustRun,
  PASSWORD,
  PG_BIN,
  startPgbench,
} from "./local_pg.ts";

const decoder = new TextDecoder();

/** A pgbench cluster of `scale` (15 MB each) with data checksums, started. */
async function pgbenchCluster(work: string, scale: number): Promise<Cluster> {
  await Deno.chmod(work, 0o755);
  const db = await cluster(work, `${work}/pgdata`, { checksums: true });
  await db.start();
  await mustRun(
    asPostgres("pgbench", ...db.socketArgs, "-i", "-q", "-s", String(scale), "postgres"),
    "pgbench -i",
  );
  return db;
}

/** Archives under DEST (not the sidecars, not the state folder). */
async function archives(dest: string): Promise<string[]> {
  return (await listFiles(dest)).filter((f) => /\.tar\.gz(\.partial)?$/.test(f));
}

/** What the server still holds of backupd's sessions: its slots and its connections. */
async function leftovers(db: Cluster): Promise<string> {
  return await db.psql(
    "SELECT (SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'backupd%') || ',' || " +
      "(SELECT count(*) FROM pg_stat_activity WHERE application_name = 'backupd')",
  );
}

/** Waits until backupd's session holds the backup open and the archive is being written. */
async function midCopy(db: Cluster, dest: string): Promise<void> {
  await waitFor("the backup's session", async () =>
    (await db.psql(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'backupd' AND query LIKE '%backup_start%'",
      )) === "1" || undefined);
  await waitFor("a partial archive", async () => (await archives(dest)).length > 0 || undefined);
}

/** Waits until the server has dropped backupd's session and its slot. */
async function sessionGone(db: Cluster): Promise<void> {
  await waitFor(
    "the server to drop the session",
    async () => await leftovers(db) === "0,0" || undefined,
  );
}

/** Restores `archive` into `into`, runs pg_verifybackup, starts it and hands it to `check`. */
async function restoreAndStart(
  archive: string,
  dest: string,
  work: string,
  into: string,
  check: (restored: Cluster) => Promise<void>,
): Promise<void> {
  const restored = await backupd(["restore", archive, "--dest", dest, "--to", into]);
  strictEqual(restored.code, 0, restored.stderr);
  const verified = await run(`${PG_BIN}/pg_verifybackup`, [into]);
  strictEqual(verified.code, 0, `pg_verifybackup ${archive}: ${verified.stdout}${verified.stderr}`);
  match(verified.stdout, /backup successfully verified/);
  const copy = await cluster(work, into);
  await copy.start();
  try {
    await check(copy);
  } finally {
    await copy.stop();
  }
  match(await Deno.readTextFile(`${into}.log`), /completed backup recovery with redo LSN/);
}

Deno.test("backups under pgbench load with checkpoints restore, pass pg_verifybackup and pg_amcheck, and keep pgbench's sums", async () => {
  await using work = await tempDir("backupd-pg-load-");
  const db = await pgbenchCluster(work.path, 20);
  const dest = `${work.path}/backup`;
  const secretFile = `${work.path}/pg-password`;
  await Deno.writeTextFile(secretFile, `${PASSWORD}\n`);
  const load = startPgbench(db);
  let checkpointing = true;
  const checkpoints = (async () => {
    let count = 0;
    while (checkpointing) {
      await db.psql("CHECKPOINT");
      count++;
      await new Promise((r) => setTimeout(r, 500));
    }
    return count;
  })();
  let lastHistory = -1;
  try {
    const before = Number(await db.psql("SELECT count(*) FROM pgbench_history"));
    await waitFor(
      "pgbench transactions",
      async () =>
        Number(await db.psql("SELECT count(*) FROM pgbench_history")) > before + 100 || undefined,
    );
    for (let i = 0; i < 8; i++) {
      const made = await backupNow(db.data, dest, ["--postgres", db.url], {
        PGPASSWORD_FILE: secretFile,
      });
      strictEqual(made.code, 0, made.stderr);
      strictEqual(/ WARN | ERROR /.test(made.stderr), false, made.stderr);
      match(
        made.stderr,
        /INFO postgres backup started server="127\.0\.0\.1:\d+\/postgres as postgres" start_lsn=[0-9A-F]+\/[0-9A-F]+ slot=backupd_/,
      );
      match(made.stderr, /INFO postgres backup stopped .* wal_segments=[1-9]/);
      const archive = (await archives(dest)).at(-1) ?? "";
      await restoreAndStart(
        archive,
        dest,
        work.path,
        `${work.path}/restored-${i}`,
        async (copy) => {
          const amcheck = await run("runuser", [
            "-u",
            "postgres",
            "--",
            `${PG_BIN}/pg_amcheck`,
            ...copy.socketArgs,
            "--all",
            "--heapallindexed",
            "--install-missing",
          ]);
          strictEqual(amcheck.code, 0, `pg_amcheck: ${amcheck.stdout}${amcheck.stderr}`);
          const sums = await copy.psql(
            "SELECT (SELECT sum(abalance) FROM pgbench_accounts) || ',' || " +
              "(SELECT sum(tbalance) FROM pgbench_tellers) || ',' || " +
              "(SELECT sum(bbalance) FROM pgbench_branches) || ',' || " +
              "(SELECT coalesce(sum(delta), 0) FROM pgbench_history) || ',' || " +
              "(SELECT count(*) FROM pgbench_history)",
          );
          const [accounts, tellers, branches, history, rows] = sums.split(",").map(Number);
          strictEqual(accounts, history, `backup ${i}: accounts ${accounts} != history ${history}`);
          strictEqual(tellers, history, `backup ${i}: tellers ${tellers} != history ${history}`);
          strictEqual(branches, history, `backup ${i}: branches ${branches} != history ${history}`);
          strictEqual((rows ?? 0) > lastHistory, true, `backup ${i} holds ${rows} transactions`);
          lastHistory = rows ?? 0;
        },
      );
      await Deno.remove(`${work.path}/restored-${i}`, { recursive: true });
    }
    strictEqual(await leftovers(db), "0,0");
  } finally {
    checkpointing = false;
    const count = await checkpoints;
    // runuser passes SIGTERM on to pgbench (not SIGINT).
    load.kill("SIGTERM");
    const pgbench = await load.output();
    await db.stop();
    console.log(
      `${count} checkpoints during the backups; pgbench: ${
        decoder.decode(pgbench.stderr).trim().split("\n").at(-1)
      }`,
    );
  }
});

Deno.test("bad PostgreSQL settings each end in one line, exit 2, no archive, and an unhealthy health", async () => {
  await using work = await tempDir("backupd-pg-bad-");
  await Deno.chmod(work.path, 0o755);
  const db = await cluster(work.path, `${work.path}/pgdata`, { checksums: false });
  const other = await cluster(`${work.path}/other`, `${work.path}/other/pgdata`, {});
  const plain = `${work.path}/plain`;
  await Deno.mkdir(`${plain}/global`, { recursive: true });
  await db.start();
  try {
    await db.psql("CREATE ROLE weak LOGIN PASSWORD 'weak-pw'");
    const port = db.port;
    const cases: [string, string, Record<string, string>, RegExp][] = [
      [
        db.data,
        `postgres://postgres@127.0.0.1:${freePort()}/postgres`,
        { PGPASSWORD: PASSWORD },
        /^Cannot connect to PostgreSQL at 127\.0\.0\.1:\d+\/postgres as postgres: connection refused$/,
      ],
      [
        db.data,
        db.url,
        { PGPASSWORD: "wrong-pw" },
        new RegExp(
          `^Cannot connect to PostgreSQL at 127\\.0\\.0\\.1:${port}/postgres as postgres: password authentication failed for user "postgres"$`,
        ),
      ],
      [
        db.data,
        db.url,
        { HOME: work.path },
        new RegExp(
          `^Cannot connect to PostgreSQL at 127\\.0\\.0\\.1:${port}/postgres as postgres: .* \\(no password was given: set PGPASSWORD or PGPASSWORD_FILE, put it in the URL, or in the password file "${work.path}/\\.pgpass" \\(PGPASSFILE\\)\\)$`,
        ),
      ],
      [
        db.data,
        `postgres://weak@127.0.0.1:${port}/postgres`,
        { PGPASSWORD: "weak-pw" },
        /^Cannot start the PostgreSQL backup at 127\.0\.0\.1:\d+\/postgres as weak: .*(superuser or replication|permission denied).*; the role needs the REPLICATION attribute and EXECUTE on pg_control_system, pg_backup_start and pg_backup_stop \(README: Consistency\)$/,
      ],
      [
        other.data,
        db.url,
        { PGPASSWORD: PASSWORD },
        new RegExp(
          `^Cannot back up "${other.data}" through PostgreSQL at 127\\.0\\.0\\.1:${port}/postgres as postgres: it is another cluster's data folder \\(system identifier \\d+ in global/pg_control, the server's is \\d+\\)$`,
        ),
      ],
      [
        plain,
        db.url,
        { PGPASSWORD: PASSWORD },
        new RegExp(
          `^Cannot back up "${plain}" through PostgreSQL: it is not a PostgreSQL data folder \\(no global/pg_control\\)$`,
        ),
      ],
    ];
    for (const [i, [source, url, env, expected]] of cases.entries()) {
      const dest = `${work.path}/backup-${i}`;
      const result = await backupNow(source, dest, ["--postgres", url], env);
      strictEqual(result.code, 2, result.stderr);
      const errors = result.stderr.split("\n").filter((l) => / ERROR /.test(l));
      strictEqual(errors.length, 1, result.stderr);
      match(
        JSON.parse(/ERROR backup failed error=(".*")$/.exec(errors[0] ?? "")?.[1] ?? '""'),
        expected,
      );
      strictEqual(/unexpected error|\n\s+at /.test(result.stderr), false, result.stderr);
      strictEqual(result.stderr.includes(PASSWORD) || result.stderr.includes("weak-pw"), false);
      strictEqual((await archives(dest)).length, 0, (await listFiles(dest)).join(" "));
      const health = await backupd(["health", "--dest", dest]);
      strictEqual(health.code, 1, health.stdout + health.stderr);
    }
    strictEqual(await leftovers(db), "0,0");
  } finally {
    await db.stop();
  }
});

Deno.test("--postgres reaches the server over its Unix socket, and over TCP with a password from PGPASSFILE", async () => {
  await using work = await tempDir("backupd-pg-socket-");
  await Deno.chmod(work.path, 0o755);
  const db = await cluster(work.path, `${work.path}/pgdata`, { checksums: false });
  await db.start();
  try {
    // The socket folder as libpq takes it, `?host=/path`: no host in the URL, no password.
    const socket = `postgres://postgres@/postgres?host=${db.sockets}&port=${db.port}`;
    const viaSocket = await backupNow(db.data, `${work.path}/b1`, ["--postgres", socket]);
    strictEqual(viaSocket.code, 0, viaSocket.stderr);
    match(
      viaSocket.stderr,
      new RegExp(
        `INFO postgres backup started server="${
          db.sockets.replaceAll(".", "\\.")
        }:${db.port}/postgres as postgres"`,
      ),
    );
    strictEqual((await archives(`${work.path}/b1`)).length, 1);

    // No PGPASSWORD: the password file gives it; one that others may read is ignored.
    const passfile = `${work.path}/pgpass`;
    await Deno.writeTextFile(passfile, `# backupd\n127.0.0.1:${db.port}:*:postgres:${PASSWORD}\n`);
    await Deno.chmod(passfile, 0o644);
    const loose = await backupNow(db.data, `${work.path}/b2`, ["--postgres", db.url], {
      PGPASSFILE: passfile,
    });
    strictEqual(loose.code, 2, loose.stderr);
    match(loose.stderr, /WARN password file ignored: it may be read by others; chmod 0600 it/);
    await Deno.chmod(passfile, 0o600);
    const viaFile = await backupNow(db.data, `${work.path}/b2`, ["--postgres", db.url], {
      PGPASSFILE: passfile,
    });
    strictEqual(viaFile.code, 0, viaFile.stderr);
    strictEqual((await archives(`${work.path}/b2`)).length, 1);
    strictEqual(viaFile.stderr.includes(PASSWORD), false);
    strictEqual(await leftovers(db), "0,0");
  } finally {
    await db.stop();
  }
});

Deno.test("a plain copy of a running PostgreSQL is refused in one line; a stopped one's folder is copied", async () => {
  await using work = await tempDir("backupd-pg-live-");
  await Deno.chmod(work.path, 0o755);
  const db = await cluster(work.path, `${work.path}/pgdata`, { checksums: false });
  await db.start();
  try {
    const refused = await backupNow(db.data, `${work.path}/b1`, []);
    strictEqual(refused.code, 2, refused.stderr);
    strictEqual(
      refused.stderr.split("\n").filter((l) => l.startsWith("backupd: ")).at(-1),
      `backupd: Cannot use --source "${db.data}": a PostgreSQL server is running on it (postmaster.pid), and a plain copy of a live database does not restore; give --postgres postgres://USER@HOST:PORT/DATABASE (README: Consistency), a --pre-hook that stops it, or BACKUP_ALLOW_LIVE_COPY=yes to copy it anyway`,
    );
    strictEqual(/unexpected error|\n\s+at /.test(refused.stderr), false, refused.stderr);
    strictEqual((await archives(`${work.path}/b1`)).length, 0);
    const allowed = await backupNow(db.data, `${work.path}/b2`, [], {
      BACKUP_ALLOW_LIVE_COPY: "yes",
    });
    strictEqual(allowed.code <= 1, true, allowed.stderr);
    strictEqual((await archives(`${work.path}/b2`)).length, 1);
    // A refused run by hand (exit 2) is the operator's typo: health judges what ran before.
    const healthBefore = await backupd(["health", "--dest", `${work.path}/b2`]);
    const statusBefore = await Deno.readTextFile(`${work.path}/b2/.backupd/status.json`);
    const typo = await backupNow(db.data, `${work.path}/b2`, []);
    strictEqual(typo.code, 2, typo.stderr);
    strictEqual(
      await Deno.readTextFile(`${work.path}/b2/.backupd/status.json`),
      statusBefore,
    );
    const healthAfter = await backupd(["health", "--dest", `${work.path}/b2`]);
    strictEqual(healthAfter.code, 0, healthAfter.stdout);
    strictEqual(healthAfter.stdout, healthBefore.stdout);
    // The daemon sees it when it starts, not at its first slot.
    const dest = `${work.path}/b4`;
    const daemon = spawnDaemon(db.data, dest, []);
    try {
      const reason = await waitFor("health to name the live folder", async () => {
        const health = await backupd(["health", "--dest", dest, "--json"]);
        const verdict = JSON.parse(health.stdout || "{}");
        return verdict.reason?.includes("a PostgreSQL server is running on it")
          ? `${health.code} ${verdict.reason}`
          : undefined;
      });
      match(
        reason,
        /^1 the daemon cannot start its backups: Cannot use --source ".*": a PostgreSQL server is running on it/,
      );
    } finally {
      signalProcess(await daemonPid(dest), "SIGTERM");
    }
    const out = await daemon.output();
    strictEqual(out.code, 0);
    match(new TextDecoder().decode(out.stderr), /ERROR start-up check failed.*running on it/);
    strictEqual((await archives(dest)).length, 0);
  } finally {
    await db.stop();
  }
  const stopped = await backupNow(db.data, `${work.path}/b3`, []);
  strictEqual(stopped.code, 0, stopped.stderr);
  strictEqual((await archives(`${work.path}/b3`)).length, 1);
});

Deno.test("a lost session or SIGTERM abandons the run and leaves the server as it was", async () => {
  await using work = await tempDir("backupd-pg-abandon-");
  const db = await pgbenchCluster(work.path, 20);
  const dest = `${work.path}/backup`;
  const env = { PGPASSWORD: PASSWORD };
  try {
    // The server ends backupd's session in the middle of the copy.
    const child = spawnBackupd(
      ["now", "--source", db.data, "--dest", dest, "--postgres", db.url],
      env,
    );
    await midCopy(db, dest);
    strictEqual(
      await db.psql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'backupd'",
      ),
      "t",
    );
    const lost = await child.output();
    const stderr = decoder.decode(lost.stderr);
    strictEqual(lost.code, 2, stderr);
    match(
      stderr,
      /ERROR backup failed error="Cannot (finish|stop) the PostgreSQL backup.*(was lost|was closed|terminat)/,
    );
    strictEqual((await archives(dest)).length, 0, (await listFiles(dest)).join(" "));
    await sessionGone(db);

    // SIGTERM to the daemon in the middle of the copy.
    // WAL archiving's own slot is meant to stay: it has its tests (pitr_faults_test.ts).
    const daemon = spawnDaemon(db.data, dest, [
      "--postgres",
      db.url,
      "--run-on-start",
      "--wal",
      "off",
    ], env);
    const pid = await daemonPid(dest);
    await midCopy(db, dest);
    signalProcess(pid, "SIGTERM");
    const stopped = await daemon.output();
    strictEqual(stopped.code, 143, decoder.decode(stopped.stderr));
    strictEqual((await archives(dest)).length, 0, (await listFiles(dest)).join(" "));
    await sessionGone(db);

    // Nothing was left that stops the next backup.
    const next = await backupNow(db.data, dest, ["--postgres", db.url], env);
    strictEqual(next.code, 0, next.stderr);
    strictEqual((await archives(dest)).length, 1);
  } finally {
    await db.stop();
  }
});

Deno.test("the daemon checks the server at start: unhealthy with the reason and notified once, then ready once it answers", async () => {
  await using work = await tempDir("backupd-pg-ready-");
  await Deno.chmod(work.path, 0o755);
  const db = await cluster(work.path, `${work.path}/pgdata`, { checksums: false });
  const dest = `${work.path}/backup`;
  const receiver = noticeReceiver();
  const notices = receiver.notices;
  // The server is not started yet: the daemon says so and waits, it does not exit.
  // WAL archiving (and its slot) has tests of its own: pitr_test.ts.
  const daemon = spawnDaemon(db.data, dest, [
    "--postgres",
    db.url,
    "--wal",
    "off",
    "--notify",
    receiver.url,
  ], { PGPASSWORD: PASSWORD });
  try {
    const pid = await daemonPid(dest);
    const health = await backupd(["health", "--dest", dest]);
    strictEqual(health.code, 1, health.stdout + health.stderr);
    match(
      health.stdout,
      /^unhealthy: the daemon cannot start its backups: Cannot connect to PostgreSQL at 127\.0\.0\.1:\d+\/postgres as postgres: connection refused \(it checks again every minute\) \(as the daemon on DEST runs: [^)]*\)\n$/,
    );
    await waitFor("the notification", () => notices.length > 0 || undefined);
    match(
      JSON.parse(notices[0] as string).error,
      /^the daemon cannot start its backups: Cannot connect/,
    );

    await db.start();
    await waitFor("the start-up checks to pass", async () => {
      const now = await backupd(["health", "--dest", dest]);
      return now.code === 0 ? now : undefined;
    }, 150);
    signalProcess(pid, "SIGTERM");
    const result = await daemon.output();
    const stderr = new TextDecoder().decode(result.stderr);
    strictEqual(result.code, 0, stderr);
    const failures = stderr.split("\n").filter((line) =>
      line.includes("ERROR start-up check failed")
    );
    strictEqual(failures.length, 1, stderr);
    match(stderr, /INFO start-up checks pass now\n[^]*INFO daemon started /);
    strictEqual(notices.length, 1, notices.join("\n"));
    strictEqual(await leftovers(db), "0,0");
  } finally {
    await receiver.close();
    await db.stop();
  }
});
