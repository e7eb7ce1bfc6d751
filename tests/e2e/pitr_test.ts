// Point-in-time recovery against a real PostgreSQL 15 (initdb --data-checksums) under
// pgbench load, a CHECKPOINT every 0.5 s and a marker committed every 100 ms: WAL archived
// by the daemon over its SQL session restores to the end after the server and its folder
// are lost, to a moment in the middle, and across the new timeline of a restored server.

import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import { backupd, listFiles, tempDir, waitFor } from "../helpers.ts";
import { type Cluster, startPgbench } from "./local_pg.ts";
import {
  baseRecorded,
  checkConsistent,
  crash,
  loadedCluster,
  type Marker,
  markerKey,
  markerKeys,
  startCheckpoints,
  startMarkers,
  startRecovered,
  walDaemon,
} from "./pitr_load.ts";

const INTERVAL_S = 2;

/** Restores DEST to `when` into `into`, starts it, hands it to `check`, stops it. */
async function recoverAndStart(
  work: string,
  dest: string,
  when: string,
  into: string,
  check: (copy: Cluster) => Promise<void>,
  { keep = false } = {},
): Promise<Cluster> {
  const restored = await backupd(["restore", "--dest", dest, "--to-time", when, "--to", into]);
  strictEqual(restored.code, 0, restored.stderr);
  match(restored.stderr, /INFO point-in-time recovery planned base=/);
  const copy = await startRecovered(work, into);
  try {
    await check(copy);
  } finally {
    if (!keep) await copy.stop();
  }
  return copy;
}

/** The markers acknowledged at or before `time`, and after it. */
function split(acks: readonly Marker[], time: number): [string[], string[]] {
  return [
    acks.filter((m) => m.at <= time).map(markerKey),
    acks.filter((m) => m.at > time).map(markerKey),
  ];
}

Deno.test("WAL archived every 2 s restores to the end after the server and its folder are lost, to a moment in the middle, and across a new timeline", async () => {
  await using work = await tempDir("backupd-pitr-");
  const db = await loadedCluster(work.path, 5);
  const dest = `${work.path}/backup`;
  await using daemon = await walDaemon(db, dest, {
    interval: `${INTERVAL_S}s`,
    extra: ["--run-on-start"],
  });
  await baseRecorded(dest);
  const pgbench = startPgbench(db, ["-R", "100"]);
  const markers = startMarkers(db);
  const checkpoints = startCheckpoints(db);
  await waitFor("150 markers", () => markers.acks.length >= 150 || undefined, 120);
  const mid = markers.acks[75] as Marker;
  const next = markers.acks[76] as Marker;
  const target = (mid.at + next.at) / 2;
  // A moment the test does not choose: somewhere in the next three seconds.
  const wanted = markers.acks.length + 1 + Math.floor(Math.random() * 30);
  await waitFor("the moment of the crash", () => markers.acks.length >= wanted || undefined);
  const stoppedAt = Date.now();
  await crash(db);
  const count = await checkpoints.stop();
  await markers.stop();
  // pgbench ends by itself when its server goes away.
  await pgbench.output();
  await Deno.remove(db.data, { recursive: true });
  const log = await daemon.stop();
  match(
    log,
    /INFO created the replication slot that holds the WAL until it is stored slot=backupd/,
  );
  match(log, /INFO base backup recorded for point-in-time recovery record=/);

  const listed = await backupd(["list", "--dest", dest, "--json"]);
  strictEqual(listed.code, 0, listed.stderr);
  const pitr = JSON.parse(listed.stdout).pitr;
  strictEqual(pitr.bases.length, 1);
  strictEqual(pitr.gaps.length, 0, JSON.stringify(pitr.gaps));
  const verified = await backupd(["verify", "--dest", dest, "--all"]);
  strictEqual(verified.code, 0, verified.stdout + verified.stderr);
  match(
    verified.stdout,
    /^OK WAL: \d+ segments, [01] partial, 0 history files, 1 base records, sha256 matches/m,
  );

  await recoverAndStart(work.path, dest, "latest", `${work.path}/latest`, async (copy) => {
    await checkConsistent(copy, "latest");
    const ids = await markerKeys(copy);
    const due = markers.acks.filter((m) => m.acked < stoppedAt - (INTERVAL_S + 2) * 1000);
    deepStrictEqual(due.map(markerKey).filter((k) => !ids.has(k)), []);
    const newest = Math.max(
      ...markers.acks.filter((m) => ids.has(markerKey(m))).map((m) => m.acked),
    );
    const lost = markers.acks.filter((m) => !ids.has(markerKey(m))).length;
    console.log(
      `RPO: the newest restored commit was acknowledged ${
        ((stoppedAt - newest) / 1000).toFixed(2)
      } s before the crash; ${lost} of ${markers.acks.length} markers lost; ${count} checkpoints`,
    );
  });

  // A restore drill of the same moment passes, with the rows the moment holds.
  const [due] = split(markers.acks, target);
  const drilled = await backupd([
    "drill",
    "--dest",
    dest,
    "--to-time",
    new Date(target).toISOString(),
    "--drill-check",
    `SELECT count(*) = ${due.length} FROM markers`,
  ]);
  strictEqual(drilled.code, 0, drilled.stdout + drilled.stderr);
  match(drilled.stdout, /^drill PASSED: \d{4}-\d\d-\d\d\/\S+ to \d{4}-/);
  match(drilled.stderr, /INFO drill: WAL put in place for recovery files=\d+/);
  // The base it recovered from is marked as drilled.
  const afterDrill = JSON.parse((await backupd(["list", "--dest", dest, "--json"])).stdout);
  strictEqual(typeof afterDrill.archives[0].drilled, "string", JSON.stringify(afterDrill.archives));

  const pit = await recoverAndStart(
    work.path,
    dest,
    new Date(target).toISOString(),
    `${work.path}/pit`,
    async (copy) => {
      await checkConsistent(copy, "point in time");
      const ids = await markerKeys(copy);
      const [before, after] = split(markers.acks, target);
      deepStrictEqual(before.filter((id) => !ids.has(id)), [], "missing before the target");
      deepStrictEqual(after.filter((id) => ids.has(id)), [], "present after the target");
      strictEqual(await copy.psql("SELECT timeline_id FROM pg_control_checkpoint()"), "2");
    },
    { keep: true },
  );

  // The restored server writes on timeline 2; the daemon follows it into the same DEST.
  let second: Marker[] = [];
  try {
    await using daemon2 = await walDaemon(pit, dest, { interval: `${INTERVAL_S}s` });
    const more = startMarkers(pit);
    await waitFor("50 markers on timeline 2", () => more.acks.length >= 50 || undefined, 60);
    await waitFor(
      "timeline 2's history stored",
      async () => (await listFiles(dest)).includes("wal/00000002.history.gz") || undefined,
    );
    // The writer stops first: then every marker it was told of is flushed WAL, and waiting
    // for the archiver to store past the last one leaves none to race the crash.
    await more.stop();
    second = more.acks;
    const lastAck = (more.acks.at(-1) as Marker).acked;
    await waitFor("the WAL of timeline 2 stored past the last marker", async () => {
      const state = JSON.parse(await Deno.readTextFile(`${dest}/.backupd/wal.json`));
      return Date.parse(state.caughtUp ?? 0) > lastAck + 100 || undefined;
    });
    await crash(pit);
    const log2 = await daemon2.stop();
    match(log2, /INFO following a new timeline timeline=2 history=00000002\.history/);
    strictEqual(/ERROR (?!WAL archiving failed)/.test(log2), false, log2);
  } finally {
    await pit.stop();
  }
  await recoverAndStart(work.path, dest, "latest", `${work.path}/timeline2`, async (copy) => {
    await checkConsistent(copy, "timeline 2");
    const ids = await markerKeys(copy);
    const [before, after] = split(markers.acks, target);
    deepStrictEqual(before.filter((id) => !ids.has(id)), []);
    deepStrictEqual(after.filter((id) => ids.has(id)), []);
    deepStrictEqual(second.map(markerKey).filter((k) => !ids.has(k)), []);
    strictEqual(await copy.psql("SELECT timeline_id FROM pg_control_checkpoint()"), "3");
  });
});
