// Point-in-time recovery from the bucket alone: the daemon sends each stored WAL segment,
// encrypted with age, and the base backup's record to a one-node Ceph cluster (the partial
// copy at most once a minute); with DEST and the server both gone, the bucket restores.

import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import { backupd, run, tempDir, waitFor } from "../helpers.ts";
import { startPgbench } from "./local_pg.ts";
import {
  baseRecorded,
  checkConsistent,
  crash,
  loadedCluster,
  type Marker,
  markerKey,
  markerKeys,
  startMarkers,
  startRecovered,
  walDaemon,
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
  const db = await loadedCluster(work.path, 2);
  const dest = `${work.path}/backup`;
  await using daemon = await walDaemon(db, dest, {
    interval: `${INTERVAL_S}s`,
    extra: ["--run-on-start"],
    env,
  });
  await baseRecorded(dest);
  const pgbench = startPgbench(db, ["-R", "50"]);
  const markers = startMarkers(db);
  const started = Date.now();
  await waitFor("75 s of load", () => Date.now() - started > 75_000 || undefined, 120);
  const crashedAt = Date.now();
  await crash(db);
  await markers.stop();
  await pgbench.output();
  await daemon.stop();
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
    /^OK WAL: \d+ segments, [01] partial, 0 history files, 1 base records, sha256 matches the sidecars, each segment is the one its name says, [1-9]\d* records chained with their CRCs$/m,
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
  const copy = await startRecovered(work.path, into);
  try {
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
