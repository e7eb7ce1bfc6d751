// `deno task bench:drill`: what a restore drill of a pgbench folder takes (README: Restore
// drills), measured in one run. Not a test.
//
//   deno task bench:drill [--scale N]
//
// A pgbench cluster of --scale (default 80) is backed up with --postgres under no load, then
// drilled: the report's seconds per step (restore, pg_verifybackup, start and recovery,
// pg_amcheck) and the RTO; backupd's peak resident memory (VmHWM of the drill process) and
// the largest sum of the drill server's resident memory seen (sampled every 100 ms).
// Needs PostgreSQL 15's server programs (Debian: postgresql-15) and runs as root.

import { parseArgs } from "node:util";
import { backupNow, descendantsOf, spawnBackupd, statusKb, tempDir } from "../helpers.ts";
import { cluster, PASSWORD } from "../e2e/local_pg.ts";
import { pgbenchInit } from "../e2e/pitr_load.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { scale: { type: "string", default: "80" } },
});

/** The pids of the processes whose command line holds `text`. */
function pidsWith(text: string): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      if (Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).includes(text)) {
        pids.push(Number(entry.name));
      }
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

await using work = await tempDir("backupd-bench-drill-");
await Deno.chmod(work.path, 0o755);
const db = await cluster(work.path, `${work.path}/pgdata`, { checksums: true });
await db.start();
const dest = `${work.path}/backup`;
try {
  await pgbenchInit(db, Number(values.scale));
  const made = await backupNow(db.data, dest, ["--postgres", db.url], { PGPASSWORD: PASSWORD });
  if (made.code !== 0) throw new Error(made.stderr);
} finally {
  await db.stop();
}
const drills = `${work.path}/drills`;
await Deno.mkdir(drills);
const child = spawnBackupd(["drill", "--dest", dest, "--drill-dir", drills, "--json"]);
let backupdPeak = 0;
let serverPeak = 0;
const sampling = setInterval(() => {
  const drill = descendantsOf(child.pid)[0];
  if (drill) backupdPeak = Math.max(backupdPeak, statusKb(drill, "VmHWM"));
  // The server is detached by pg_ctl: found by its data folder in the scratch folder.
  const server = pidsWith(`${drills}/backupd-drill-scratch-`).reduce(
    (sum, pid) => sum + statusKb(pid, "VmRSS"),
    0,
  );
  serverPeak = Math.max(serverPeak, server);
}, 100);
const out = await child.output();
clearInterval(sampling);
const report = JSON.parse(new TextDecoder().decode(out.stdout));
const mb = (kb: number) => (kb / 1024).toFixed(1);
console.log(
  `pgbench scale ${values.scale}: archive ${
    (report.bytes.archive / 2 ** 20).toFixed(0)
  } MiB, restored ${(report.bytes.restored / 2 ** 20).toFixed(0)} MiB; drill ${report.result}`,
);
console.log(
  `restore ${report.seconds.restore} s, pg_verifybackup ${report.seconds.verify} s, start and recovery ${report.seconds.start} s, pg_amcheck ${report.seconds.amcheck} s; RTO ${report.rtoSeconds} s`,
);
console.log(
  `peak memory: backupd ${mb(backupdPeak)} MiB (VmHWM); the drill's server ${
    mb(serverPeak)
  } MiB (largest sum of its processes' RSS seen)`,
);
