// `backupd now` stopped by SIGTERM or SIGINT in the middle of a run: the partial goes, the
// post-hook hears the run failed, one line says why, and the exit code is 128 + the signal.

import { match, strictEqual } from "node:assert/strict";
import {
  backupd,
  listFiles,
  randomFile,
  signalProcess,
  spawnBackupd,
  tempDir,
  waitFor,
} from "../helpers.ts";

const decoder = new TextDecoder();

/** The pid `backupd now` wrote into the lock while it runs. */
async function nowPid(dest: string): Promise<number> {
  return await waitFor("the lock's holder", async () => {
    const text = await Deno.readTextFile(`${dest}/.backupd/lock`).catch(() => "");
    const pid = /^pid (\d+) \(backupd now\)/.exec(text)?.[1];
    return pid ? Number(pid) : undefined;
  });
}

for (const [signal, code] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
  Deno.test(`backupd now abandons the run on ${signal}, removes the partial, runs the post-hook and exits ${code}`, async () => {
    await using dir = await tempDir();
    for (let i = 0; i < 7; i++) await randomFile(`${dir.path}/data/f${i}`, 100);
    const dest = `${dir.path}/backup`;
    const marker = `${dir.path}/post-hook-status`;
    const child = spawnBackupd([
      "now",
      "--source",
      `${dir.path}/data`,
      "--dest",
      dest,
      "--post-hook",
      `sh -c 'echo "$BACKUP_STATUS" > ${marker}'`,
    ]);
    const pid = await nowPid(dest);
    await waitFor("20 MB of archive", async () => {
      for (const file of await listFiles(dest)) {
        if (file.endsWith(".partial") && (await Deno.stat(`${dest}/${file}`)).size > 20e6) {
          return true;
        }
      }
      return undefined;
    });
    const signalled = performance.now();
    signalProcess(pid, signal);
    const result = await child.output();
    const seconds = (performance.now() - signalled) / 1000;
    const stderr = decoder.decode(result.stderr);
    strictEqual(result.code, code, stderr);
    match(stderr, new RegExp(`INFO stopping: abandoning the run signal=${signal}\\n`));
    match(
      stderr,
      new RegExp(`ERROR backup failed error="Cannot finish the run: interrupted by ${signal}"\\n$`),
    );
    strictEqual((await Deno.readTextFile(marker)).trim(), "failed");
    strictEqual((await listFiles(dest)).filter((f) => /\.tar\.gz|partial/.test(f)).length, 0);
    // Recorded as interrupted, not failed: health still judges by the archives (none yet,
    // and no slot has passed), not by a Ctrl-C.
    const status = JSON.parse(await Deno.readTextFile(`${dest}/.backupd/status.json`));
    strictEqual(status.result, "interrupted");
    const health = await backupd(["health", "--dest", dest, "--schedule", "0 0 1 1 *"]);
    strictEqual(health.code, 0, health.stdout);
    console.log(`backupd now exited ${seconds.toFixed(2)} s after ${signal}`);
  });
}
