// The recovery window against a real PostgreSQL 15: a second backup on the same day (a
// safety backup by SIGUSR1) under `--keep-daily 7` keeps the morning base and the WAL
// from it, so a moment between the two backups still restores; prune and list say where
// the window starts and which base holds it.

import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import { backupd, listFiles, signalProcess, tempDir, waitFor } from "../helpers.ts";
import {
  baseRecorded,
  caughtUpAfter,
  loadedCluster,
  startRecovered,
  walDaemon,
} from "./pitr_load.ts";

/** The archives under DEST, oldest first. */
async function archivesOf(dest: string): Promise<string[]> {
  return (await listFiles(dest)).filter((f) => /^\d{4}-\d\d-\d\d\/.*\.tar\.gz$/.test(f)).sort();
}

Deno.test("a second backup on one day under --keep-daily 7 keeps the morning base: a moment between the two restores", async () => {
  await using work = await tempDir("backupd-pitr-window-");
  const db = await loadedCluster(work.path, 1);
  const dest = `${work.path}/backup`;
  await using daemon = await walDaemon(db, dest, {
    interval: "1s",
    extra: ["--run-on-start", "--keep-daily", "7"],
  });
  await baseRecorded(dest);
  await waitFor("the first run to end", async () =>
    (await archivesOf(dest)).length === 1 &&
      JSON.parse(await Deno.readTextFile(`${dest}/.backupd/daemon.json`)).running === false ||
    undefined);
  const [morning] = await archivesOf(dest);
  await db.psql("INSERT INTO markers (at) VALUES (clock_timestamp())");
  await new Promise((r) => setTimeout(r, 1100));
  const between = new Date().toISOString();
  await new Promise((r) => setTimeout(r, 1100));
  await db.psql("INSERT INTO markers (at) VALUES (clock_timestamp())");
  // The safety backup: retention runs after it, and the daily rule alone keeps only it.
  signalProcess(daemon.pid, "SIGUSR1");
  await baseRecorded(dest, 2);
  await waitFor(
    "the safety backup's run to end",
    async () =>
      (await archivesOf(dest)).length >= 2 &&
        JSON.parse(await Deno.readTextFile(`${dest}/.backupd/daemon.json`)).running === false ||
      undefined,
  );
  await caughtUpAfter(dest, Date.now());
  // The host server has no limit on what the slot holds: said once, shown by health and config.
  const health = await backupd(["health", "--dest", dest, "--json"]);
  strictEqual(JSON.parse(health.stdout).serverMaxSlotWalKeepSizeBytes, null, health.stdout);
  const config = await backupd(["config", "--dest", dest, "--postgres", db.url]);
  match(config.stdout, /^server max_slot_wal_keep_size +-1 \(no limit/m);
  const log = await daemon.stop();
  strictEqual(log.match(/WARN the server keeps WAL for the slot without limit/g)?.length, 1, log);
  match(log, /INFO the recovery window is kept from=\S+ base=/);
  strictEqual((await archivesOf(dest)).includes(morning as string), true, log);

  const dry = await backupd(["prune", "--dest", dest, "--keep-daily", "7", "--dry-run"]);
  strictEqual(dry.code, 0, dry.stderr);
  match(dry.stdout, new RegExp(`^keep   ${morning}  \\(holds the recovery window from `, "m"));
  match(
    dry.stdout,
    new RegExp(
      `^recovery window: every moment since \\S+ stays recoverable, from base ${morning} \\(ended `,
      "m",
    ),
  );
  // Without the window the daily rule would have taken it.
  const off = await backupd([
    "prune",
    "--dest",
    dest,
    "--keep-daily",
    "7",
    "--keep-within",
    "off",
    "--dry-run",
  ]);
  match(off.stdout, new RegExp(`^remove ${morning}  \\(matches no keep rule\\)`, "m"));
  const listed = await backupd(["list", "--dest", dest, "--keep-daily", "7"]);
  match(
    listed.stdout,
    new RegExp(
      `^  recovery window: every moment since \\S+ stays recoverable, from base ${morning}$`,
      "m",
    ),
  );

  const into = `${work.path}/between`;
  const restored = await backupd(["restore", "--dest", dest, "--to-time", between, "--to", into]);
  strictEqual(restored.code, 0, restored.stderr);
  match(restored.stderr, new RegExp(`planned base=${morning}`));
  const copy = await startRecovered(work.path, into);
  try {
    deepStrictEqual(await copy.psql("SELECT count(*) FROM markers"), "1");
  } finally {
    await copy.stop();
    await db.stop();
  }
});
