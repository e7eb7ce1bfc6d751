// `deno task bench:dump`: what getting one table back costs against recovering the whole
// cluster to the same moment (README: Get one table back), measured in one run. Not a test.
//
//   deno task bench:dump [--scale N] [--minutes N] [--rate N]
//
// A pgbench cluster of --scale (default 80) is archived by the daemon (a base backup, then
// WAL every 10 s) under `pgbench -R --rate` for --minutes (default 60). Then, to the end of
// the WAL: the seconds from `dump --to-time latest --table public.pgbench_branches --into`
// to the table loaded beside the live one, against `restore --to-time latest` of the whole
// cluster plus its start to a server that accepts writes; and the peak resident memory of
// backupd in each (VmHWM, sampled every 100 ms). Needs PostgreSQL 15's server programs
// (Debian: postgresql-15) and runs as root.

import { parseArgs } from "node:util";
import { descendantsOf, spawnBackupd, statusKb, tempDir, waitFor } from "../helpers.ts";
import { cluster, PASSWORD, startPgbench } from "../e2e/local_pg.ts";
import {
  baseRecorded,
  caughtUpAfter,
  pgbenchInit,
  startRecovered,
  walDaemon,
} from "../e2e/pitr_load.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    scale: { type: "string", default: "80" },
    minutes: { type: "string", default: "60" },
    rate: { type: "string", default: "100" },
  },
});

/** Runs backupd to its end: seconds, peak VmHWM (kB) of its process, and its output. */
async function measured(args: string[], env: Record<string, string> = {}) {
  const started = performance.now();
  const child = spawnBackupd(args, env);
  let peak = 0;
  const sampling = setInterval(() => {
    const pid = descendantsOf(child.pid)[0];
    if (pid) peak = Math.max(peak, statusKb(pid, "VmHWM"));
  }, 100);
  const out = await child.output();
  clearInterval(sampling);
  const stderr = new TextDecoder().decode(out.stderr);
  if (out.code !== 0) throw new Error(stderr);
  return { seconds: (performance.now() - started) / 1000, peak, stderr };
}

await using work = await tempDir("backupd-bench-dump-");
await Deno.chmod(work.path, 0o755);
const db = await cluster(work.path, `${work.path}/pgdata`, { checksums: true });
await db.start();
const dest = `${work.path}/backup`;
try {
  await pgbenchInit(db, Number(values.scale));
  const daemon = await walDaemon(db, dest, { interval: "10s", extra: ["--run-on-start"] });
  await baseRecorded(dest);
  const pgbench = startPgbench(db, ["-R", values.rate]);
  const window = Number(values.minutes) * 60_000;
  const started = performance.now();
  await waitFor(
    "the window",
    () => performance.now() - started > window || undefined,
    window / 1000 + 60,
  );
  pgbench.kill("SIGTERM");
  await pgbench.output();
  await caughtUpAfter(dest, Date.now(), 300);
  await daemon.stop();

  const dump = await measured([
    "dump",
    "--dest",
    dest,
    "--postgres",
    db.url,
    "--to-time",
    "latest",
    "--table",
    "public.pgbench_branches",
    "--into",
    "--drill-dir",
    work.path,
  ], { PGPASSWORD: PASSWORD });
  const whole = await measured([
    "restore",
    "--dest",
    dest,
    "--to-time",
    "latest",
    "--to",
    `${work.path}/whole`,
  ]);
  const t = performance.now();
  const copy = await startRecovered(work.path, `${work.path}/whole`);
  const start = (performance.now() - t) / 1000;
  await copy.stop();
  const wholeSeconds = whole.seconds + start;
  console.log(
    `pgbench scale ${values.scale}, ${values.minutes} min of -R ${values.rate} after the base`,
  );
  console.log(
    `one table loaded beside the live one: ${
      dump.seconds.toFixed(1)
    } s; the whole cluster restored to the same moment and started: ${
      wholeSeconds.toFixed(1)
    } s (restore ${whole.seconds.toFixed(1)} s + start ${start.toFixed(1)} s); ratio ${
      (dump.seconds / wholeSeconds).toFixed(2)
    }`,
  );
  console.log(
    `peak memory of backupd: dump ${(dump.peak / 1024).toFixed(1)} MiB, restore ${
      (whole.peak / 1024).toFixed(1)
    } MiB (VmHWM)`,
  );
} finally {
  await db.stop();
}
