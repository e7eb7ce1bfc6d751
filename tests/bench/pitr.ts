// `deno task bench:pitr`: what continuous WAL archiving costs and gives, measured in one
// run on a local pgbench cluster (README: Point-in-time recovery). Not a test.
//
//   deno task bench:pitr [--scale N] [--minutes N] [--rate N] [--interval D]
//
// The daemon (`--wal-interval D`, default 10s) archives a pgbench cluster of --scale under
// `pgbench -R --rate` for --minutes with a marker committed every 100 ms, then the server is
// stopped with -m immediate at a moment the script does not choose. Printed:
// - the WAL stored per hour (DEST/wal/ bytes, scaled from the window) and the WAL the
//   server wrote per hour, for the ratio;
// - the CPU-seconds per hour of the daemon process (utime + stime from /proc, the base
//   backup at the start taken out), against the CPU-seconds of the server's own processes;
// - the RPO seen: how long before the crash the newest restored marker was acknowledged;
// - the time to restore `--to-time latest` against restoring the base archive alone, as a
//   ratio, each to a server that accepts writes.
// Needs PostgreSQL 15's server programs (Debian: postgresql-15) and runs as root.

import { parseArgs } from "node:util";
import { backupd, listFiles, tempDir, waitFor } from "../helpers.ts";
import { cluster, startPgbench } from "../e2e/local_pg.ts";
import {
  crash,
  createMarkers,
  type Marker,
  markerKey,
  markerKeys,
  pgbenchInit,
  startMarkers,
  startRecovered,
  walDaemon,
} from "../e2e/pitr_load.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    scale: { type: "string", default: "80" },
    minutes: { type: "string", default: "10" },
    rate: { type: "string", default: "100" },
    interval: { type: "string", default: "10s" },
  },
});

const TICKS = 100; // USER_HZ on Linux

/** utime + stime of a process, seconds. */
function cpuSeconds(pid: number): number {
  const fields = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

/** CPU seconds of every process whose command line starts with `postgres` under `data`. */
function serverCpu(data: string): number {
  let total = 0;
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const pid = Number(entry.name);
      const cmd = Deno.readTextFileSync(`/proc/${pid}/cmdline`);
      const parent = Number(
        Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1]?.split(" ")[1],
      );
      const parentCmd = Deno.readTextFileSync(`/proc/${parent}/cmdline`);
      if (cmd.includes(data) || (parentCmd.includes(data) && parentCmd.includes("postgres"))) {
        total += cpuSeconds(pid);
      }
    } catch {
      // Gone meanwhile.
    }
  }
  return total;
}

async function walBytes(dest: string): Promise<number> {
  let total = 0;
  for (const file of await listFiles(dest)) {
    if (file.startsWith("wal/")) total += (await Deno.stat(`${dest}/${file}`)).size;
  }
  return total;
}

/** Seconds from the restore command to a server that accepts writes; the keys it holds. */
async function timedRecovery(
  work: string,
  args: string[],
  into: string,
): Promise<{ seconds: number; keys: Set<string> }> {
  const started = performance.now();
  const restored = await backupd([...args, "--to", into]);
  if (restored.code !== 0) throw new Error(restored.stderr);
  const copy = await startRecovered(work, into);
  const seconds = (performance.now() - started) / 1000;
  const keys = await markerKeys(copy).catch(() => new Set<string>());
  await copy.stop();
  return { seconds, keys };
}

await using work = await tempDir("backupd-bench-pitr-");
await Deno.chmod(work.path, 0o755);
const db = await cluster(work.path, `${work.path}/pgdata`, { checksums: true });
await db.start();
const dest = `${work.path}/backup`;
try {
  await pgbenchInit(db, Number(values.scale));
  await createMarkers(db);
  const daemon = await walDaemon(db, dest, {
    interval: values.interval,
    extra: ["--run-on-start"],
  });
  const pid = daemon.pid;
  await waitFor(
    "the base backup",
    async () => (await listFiles(dest)).some((f) => f.endsWith(".backup")) || undefined,
    600,
  );
  const base = (await listFiles(dest)).find((f) =>
    /^\d{4}-\d\d-\d\d\/.*\.tar\.gz$/.test(f)
  ) as string;
  const walStart = await walBytes(dest);
  const lsnStart = await db.psql("SELECT pg_current_wal_lsn()");
  const cpuStart = cpuSeconds(pid);
  const serverStart = serverCpu(db.data);
  const started = performance.now();
  const pgbench = startPgbench(db, ["-R", values.rate]);
  const markers = startMarkers(db);
  const window = Number(values.minutes) * 60_000;
  await waitFor(
    "the window",
    () => performance.now() - started > window || undefined,
    window / 1000 + 60,
  );
  // The crash comes at a moment the script does not choose, within the next interval.
  const extra = Math.random() * 10_000;
  await waitFor("the crash", () => performance.now() - started > window + extra || undefined, 60);
  const cpu = cpuSeconds(pid) - cpuStart;
  const server = serverCpu(db.data) - serverStart;
  const written = Number(await db.psql(`SELECT pg_current_wal_lsn() - '${lsnStart}'::pg_lsn`));
  const crashedAt = Date.now();
  await crash(db);
  const elapsed = (performance.now() - started) / 1000;
  await markers.stop();
  await pgbench.output();
  // Let the daemon fail one cycle on the gone server, then stop it.
  await daemon.stop();
  const stored = (await walBytes(dest)) - walStart;
  const perHour = 3600 / elapsed;

  const latest = await timedRecovery(
    work.path,
    ["restore", "--dest", dest, "--to-time", "latest"],
    `${work.path}/latest`,
  );
  const newest = Math.max(
    ...markers.acks.filter((m: Marker) => latest.keys.has(markerKey(m))).map((m) => m.acked),
  );
  const alone = await timedRecovery(
    work.path,
    ["restore", base, "--dest", dest],
    `${work.path}/base`,
  );

  const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
  console.log(
    `pgbench scale ${values.scale}, -R ${values.rate}, ${
      (elapsed / 60).toFixed(1)
    } min, --wal-interval ${values.interval}`,
  );
  console.log(
    `WAL written by the server: ${mb(written * perHour)} MiB/h; stored under DEST/wal: ${
      mb(stored * perHour)
    } MiB/h (${(stored / written).toFixed(2)} x)`,
  );
  console.log(
    `CPU: backupd ${(cpu * perHour).toFixed(1)} s/h (${
      ((cpu / elapsed) * 100).toFixed(2)
    } % of one core); the server ${(server * perHour).toFixed(1)} s/h; ratio ${
      (cpu / server).toFixed(3)
    }`,
  );
  console.log(
    `RPO seen: the newest restored commit was acknowledged ${
      ((crashedAt - newest) / 1000).toFixed(2)
    } s before the crash`,
  );
  console.log(
    `restore latest (base + ${mb(stored)} MiB of WAL) to open: ${
      latest.seconds.toFixed(1)
    } s; the base alone: ${alone.seconds.toFixed(1)} s; ratio ${
      (latest.seconds / alone.seconds).toFixed(2)
    }`,
  );
} finally {
  await db.stop();
}
