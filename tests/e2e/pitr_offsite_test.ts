// Point-in-time recovery from the bucket alone: the daemon sends each stored WAL segment,
// encrypted with age, and the base backup's record to a one-node Ceph cluster (the partial
// copy at most once a minute); with DEST and the server both gone, the bucket restores.

import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import {
  backupd,
  daemonPid,
  descendantsOf,
  listFiles,
  run,
  signalProcess,
  spawnDaemon,
  tempDir,
  waitFor,
} from "../helpers.ts";
import { asPostgres, cluster, mustRun, PASSWORD, startPgbench } from "./local_pg.ts";
import {
  checkConsistent,
  createMarkers,
  type Marker,
  markerKey,
  markerKeys,
  pgbenchInit,
  startMarkers,
} from "./pitr_load.ts";
import { startCeph } from "./ceph.ts";

const BUCKET = "backups";
const INTERVAL_S = 2;
/** The partial copy goes to the bucket at most this often. */
const PARTIAL_UPLOAD_S = 60;

Deno.test("with DEST and the server lost, the bucket alone restores to the end: WAL sent as stored, encrypted with age", async () => {
  await using ceph = await startCeph(BUCKET);
  await using work = await tempDir("backupd-pitr-offsite-");
  await Deno.chmod(work.path, 0o755);
  const keygen = await run("age-keygen", ["-o", `${work.path}/key.txt`]);
  strictEqual(keygen.code, 0, keygen.stderr);
  const recipient = /Public key: (age1\w+)/.exec(keygen.stderr)?.[1] as string;
  const url = `s3://${BUCKET}/pitr`;
  const env = { ...ceph.env(url), BACKUP_AGE_RECIPIENTS: recipient };
  const db = await cluster(work.path, `${work.path}/pgdata`, { checksums: true });
  await db.start();
  await pgbenchInit(db, 2);
  await createMarkers(db);
  const dest = `${work.path}/backup`;
  const child = spawnDaemon(db.data, dest, [
    "--postgres",
    db.url,
    "--wal-interval",
    `${INTERVAL_S}s`,
    "--run-on-start",
  ], { ...env, PGPASSWORD: PASSWORD });
  const pid = await waitFor("the daemon", async () => {
    const pid = await daemonPid(dest);
    return descendantsOf(child.pid).includes(pid) ? pid : undefined;
  });
  await waitFor(
    "the base backup's record",
    async () => (await listFiles(dest)).some((f) => f.endsWith(".backup")) || undefined,
    120,
  );
  const pgbench = startPgbench(db, ["-R", "50"]);
  const markers = startMarkers(db);
  const started = Date.now();
  await waitFor("75 s of load", () => Date.now() - started > 75_000 || undefined, 120);
  const crashedAt = Date.now();
  await mustRun(asPostgres("pg_ctl", "-D", db.data, "-m", "immediate", "-w", "stop"), "crash");
  await markers.stop();
  await pgbench.output();
  signalProcess(pid, "SIGTERM");
  const out = await child.output();
  strictEqual(out.code, 0, new TextDecoder().decode(out.stderr));
  // Only the bucket is left.
  await Deno.remove(dest, { recursive: true });
  await Deno.remove(db.data, { recursive: true });

  const verified = await backupd([
    "verify",
    "--remote",
    "--all",
    "--age-identity",
    `${work.path}/key.txt`,
    "--dest",
    dest,
  ], env);
  strictEqual(verified.code, 0, verified.stdout + verified.stderr);
  match(
    verified.stdout,
    /^OK WAL: \d+ segments, [01] partial, 0 history files, 1 base records, sha256 matches the sidecars, each segment is the one its name says$/m,
  );

  const into = `${work.path}/restored`;
  const restored = await backupd([
    "restore",
    url,
    "--to-time",
    "latest",
    "--to",
    into,
    "--age-identity",
    `${work.path}/key.txt`,
  ], env);
  strictEqual(restored.code, 0, restored.stderr);
  match(restored.stderr, /INFO point-in-time recovery planned base=s3:\/\/backups\/pitr\//);
  const copy = await cluster(work.path, into);
  await copy.start();
  try {
    await waitFor(
      "the end of recovery",
      async () => await copy.psql("SELECT pg_is_in_recovery()") === "f" || undefined,
      120,
    );
    await checkConsistent(copy, "from the bucket");
    const keys = await markerKeys(copy);
    const bound = (PARTIAL_UPLOAD_S + INTERVAL_S + 2) * 1000;
    const due = markers.acks.filter((m) => m.acked < crashedAt - bound).map(markerKey);
    deepStrictEqual(due.filter((k) => !keys.has(k)), []);
    const newest = Math.max(
      ...markers.acks.filter((m: Marker) => keys.has(markerKey(m))).map((m) => m.acked),
    );
    console.log(
      `from the bucket alone: the newest restored commit was acknowledged ${
        ((crashedAt - newest) / 1000).toFixed(2)
      } s before the crash (partial copies go up at most once a minute)`,
    );
  } finally {
    await copy.stop();
  }
});
