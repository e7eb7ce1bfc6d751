// `deno task bench:postgres`: what an online backup through PostgreSQL's backup API costs,
// measured in one run on a local pgbench cluster. Not a test.
//
//   deno task bench:postgres [--scale N] [--runs N] [--seconds N]
//
// 1. The time of `backupd now --postgres` against a plain copy of the same folder
//    (`backupd now`, nothing around it), alternating, idle server, medians of --runs.
// 2. pgbench's transactions per second (-c 4, per-second progress) for --seconds before a
//    backup, and during it: the API must not pause clients.
// Needs PostgreSQL 15's server programs (Debian: postgresql-15) and runs as root.

import { parseArgs } from "node:util";
import { backupNow, tempDir } from "../helpers.ts";
import { asPostgres, cluster, mustRun, PASSWORD, PG_BIN } from "../e2e/local_pg.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    scale: { type: "string", default: "50" },
    runs: { type: "string", default: "3" },
    seconds: { type: "string", default: "15" },
  },
});
const decoder = new TextDecoder();

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);
}

async function timed(run: () => Promise<{ code: number; stderr: string }>): Promise<number> {
  const started = performance.now();
  const result = await run();
  if (result.code !== 0) throw new Error(result.stderr);
  return (performance.now() - started) / 1000;
}

await using work = await tempDir("backupd-bench-pg-");
await Deno.chmod(work.path, 0o755);
const db = await cluster(work.path, `${work.path}/pgdata`, { checksums: true });
await db.start();
try {
  await mustRun(
    asPostgres("pgbench", ...db.socketArgs, "-i", "-q", "-s", values.scale, "postgres"),
    "pgbench -i",
  );
  const size = Number(await db.psql("SELECT pg_database_size('postgres')"));
  const env = { PGPASSWORD: PASSWORD };
  const dest = `${work.path}/backup`;
  const plain: number[] = [];
  const online: number[] = [];
  for (let i = 0; i < Number(values.runs); i++) {
    await Deno.remove(dest, { recursive: true }).catch(() => undefined);
    plain.push(await timed(() => backupNow(db.data, dest, [])));
    await Deno.remove(dest, { recursive: true });
    online.push(await timed(() => backupNow(db.data, dest, ["--postgres", db.url], env)));
  }

  const load = new Deno.Command("runuser", {
    args: [
      "-u",
      "postgres",
      "--",
      `${PG_BIN}/pgbench`,
      ...db.socketArgs,
      "-c",
      "4",
      "-j",
      "2",
      "-T",
      "3600",
      "-n",
      "-P",
      "1",
      "--progress-timestamp",
      "postgres",
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const window = Number(values.seconds) * 1000;
  await new Promise((r) => setTimeout(r, window + 2000));
  const backupStart = Date.now();
  const during = await timed(() => backupNow(db.data, dest, ["--postgres", db.url], env));
  const backupEnd = Date.now();
  load.kill("SIGTERM");
  const progress = decoder.decode((await load.output()).stderr);
  const samples = [...progress.matchAll(/^progress: ([\d.]+) s, ([\d.]+) tps/gm)].map((m) => ({
    at: Number(m[1]) * 1000,
    tps: Number(m[2]),
  }));
  const before = samples.filter((s) => s.at > backupStart - window && s.at <= backupStart);
  const inside = samples.filter((s) => s.at > backupStart + 1000 && s.at <= backupEnd);

  console.log(
    `PostgreSQL 15, pgbench scale ${values.scale} (${
      (size / 1e6).toFixed(0)
    } MB), ${navigator.hardwareConcurrency} cores`,
  );
  console.log("| measure | value |");
  console.log("| --- | --- |");
  console.log(`| plain copy, median of ${values.runs} (s) | ${median(plain).toFixed(2)} |`);
  console.log(
    `| through the backup API, median of ${values.runs} (s) | ${median(online).toFixed(2)} |`,
  );
  console.log(`| API / plain copy | ${(median(online) / median(plain)).toFixed(2)}x |`);
  console.log(
    `| pgbench tps before the backup (mean of ${before.length} s) | ${
      mean(before.map((s) => s.tps)).toFixed(0)
    } |`,
  );
  console.log(
    `| pgbench tps during the backup (mean of ${inside.length} s) | ${
      mean(inside.map((s) => s.tps)).toFixed(0)
    } |`,
  );
  console.log(
    `| during / before | ${
      (mean(inside.map((s) => s.tps)) / mean(before.map((s) => s.tps))).toFixed(2)
    }x |`,
  );
  console.log(
    `| lowest second during the backup (tps) | ${
      Math.min(...inside.map((s) => s.tps)).toFixed(0)
    } |`,
  );
  console.log(`| backup under load (s) | ${during.toFixed(2)} |`);
} finally {
  await db.stop();
}
