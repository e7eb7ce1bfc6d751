// `deno task bench:postgres`: what an online backup through PostgreSQL's backup API costs,
// measured in one run on a local pgbench cluster. Not a test.
//
//   deno task bench:postgres [--scale N] [--runs N] [--seconds N]
//
// 1. The time of `backupd now --postgres` against a plain copy of the same folder
//    (`backupd now`, nothing around it), alternating, idle server, medians of --runs.
// 2. pgbench's transactions per second (-c 4, per-second progress) for --seconds before a
//    backup, during it (the API must not pause clients), and during a plain copy under the
//    same load: on 2 cores the copy's compression competes with pgbench either way.
// Needs PostgreSQL 15's server programs (Debian: postgresql-15) and runs as root.

import { parseArgs } from "node:util";
import { backupNow, tempDir } from "../helpers.ts";
import { asPostgres, cluster, mustRun, PASSWORD, startPgbench } from "../e2e/local_pg.ts";

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

/** Seconds and bytes read of one backup; a plain copy of a live folder may warn (exit 1). */
async function timed(
  run: () => Promise<{ code: number; stderr: string }>,
): Promise<{ seconds: number; bytesIn: number }> {
  const started = performance.now();
  const result = await run();
  if (result.code > 1) throw new Error(result.stderr);
  const bytesIn = Number(/ bytes_in=(\d+) /.exec(result.stderr)?.[1]);
  return { seconds: (performance.now() - started) / 1000, bytesIn };
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
  const plain: { seconds: number; bytesIn: number }[] = [];
  const online: { seconds: number; bytesIn: number }[] = [];
  for (let i = 0; i < Number(values.runs); i++) {
    await Deno.remove(dest, { recursive: true }).catch(() => undefined);
    plain.push(await timed(() => backupNow(db.data, dest, [])));
    await Deno.remove(dest, { recursive: true });
    online.push(await timed(() => backupNow(db.data, dest, ["--postgres", db.url], env)));
  }

  const load = startPgbench(db, ["-P", "1", "--progress-timestamp"]);
  const window = Number(values.seconds) * 1000;
  const pause = () => new Promise((r) => setTimeout(r, window + 2000));
  /** Runs a backup under the load; returns when it ran, for the tps samples. */
  const underLoad = async (args: string[]) => {
    await Deno.remove(dest, { recursive: true }).catch(() => undefined);
    const start = Date.now();
    const made = await timed(() => backupNow(db.data, dest, args, env));
    return { start, end: Date.now(), seconds: made.seconds };
  };
  await pause();
  const api = await underLoad(["--postgres", db.url]);
  await pause();
  const copy = await underLoad([]);
  load.kill("SIGTERM");
  const progress = decoder.decode((await load.output()).stderr);
  const samples = [...progress.matchAll(/^progress: ([\d.]+) s, ([\d.]+) tps/gm)].map((m) => ({
    at: Number(m[1]) * 1000,
    tps: Number(m[2]),
  }));
  const tps = (from: number, to: number) => samples.filter((s) => s.at > from && s.at <= to);
  const before = tps(api.start - window, api.start);
  const duringApi = tps(api.start + 1000, api.end);
  const duringCopy = tps(copy.start + 1000, copy.end);
  const avg = (xs: { tps: number }[]) => mean(xs.map((s) => s.tps));
  const low = (xs: { tps: number }[]) => Math.min(...xs.map((s) => s.tps));

  const plainS = median(plain.map((r) => r.seconds));
  const onlineS = median(online.map((r) => r.seconds));
  const mb = (runs: { bytesIn: number }[]) => ((runs[0]?.bytesIn ?? 0) / 1e6).toFixed(0);
  const rows: [string, string][] = [
    [
      `plain copy, idle server, median of ${values.runs}: s (MB read)`,
      `${plainS.toFixed(2)} (${mb(plain)})`,
    ],
    [
      `through the backup API, idle server, median of ${values.runs}: s (MB read)`,
      `${onlineS.toFixed(2)} (${mb(online)})`,
    ],
    ["API / plain copy", `${(onlineS / plainS).toFixed(2)}x`],
    [`pgbench tps before the backups (mean of ${before.length} s)`, avg(before).toFixed(0)],
    [
      `tps during the API backup (${duringApi.length} s; lowest second)`,
      `${avg(duringApi).toFixed(0)} (${low(duringApi).toFixed(0)})`,
    ],
    [
      `tps during a plain copy (${duringCopy.length} s; lowest second)`,
      `${avg(duringCopy).toFixed(0)} (${low(duringCopy).toFixed(0)})`,
    ],
    ["API backup tps / before", `${(avg(duringApi) / avg(before)).toFixed(2)}x`],
    ["API backup tps / plain copy tps", `${(avg(duringApi) / avg(duringCopy)).toFixed(2)}x`],
    [
      "API backup / plain copy under load: s",
      `${api.seconds.toFixed(2)} / ${copy.seconds.toFixed(2)}`,
    ],
  ];
  console.log(
    `PostgreSQL 15, pgbench scale ${values.scale} (${
      (size / 1e6).toFixed(0)
    } MB), pgbench -c 4, ${navigator.hardwareConcurrency} cores`,
  );
  console.log("| measure | value |\n| --- | --- |");
  for (const [what, value] of rows) console.log(`| ${what} | ${value} |`);
} finally {
  await db.stop();
}
