// Pre- and post-hooks on real runs: order, environment, failures, timeouts, bad commands.

import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import {
  backupd,
  backupNow,
  daemonPid,
  descendantsOf,
  listFiles,
  run,
  signalProcess,
  spawnBackupd,
  spawnDaemon,
  tempDir,
  waitFor,
} from "../helpers.ts";

Deno.test("backupd now runs the pre-hook before and the post-hook after, with the status and archive", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/data`);
  const log = `${dir.path}/hooks.log`;
  const result = await backupNow(`${dir.path}/data`, `${dir.path}/backup`, [
    "--pre-hook",
    `sh -c 'echo "pre $(ls ${dir.path}/backup | grep -c 20)" >> ${log}'`,
    "--post-hook",
    `sh -c 'echo "post $BACKUP_STATUS $BACKUP_ARCHIVE" >> ${log}; echo said on stdout'`,
  ]);
  strictEqual(result.code, 0, result.stderr);
  const archive = (await listFiles(`${dir.path}/backup`)).find((f) => f.endsWith(".tar.gz"));
  deepStrictEqual((await Deno.readTextFile(log)).split("\n"), [
    "pre 0",
    `post ok ${dir.path}/backup/${archive}`,
    "",
  ]);
  match(result.stderr, /INFO --post-hook output stream=stdout line="said on stdout"/);
});

Deno.test("backupd now fails with exit 2 and writes no archive when the pre-hook fails; the post-hook hears failed", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/data`);
  const log = `${dir.path}/hooks.log`;
  const result = await backupNow(`${dir.path}/data`, `${dir.path}/backup`, [], {
    BACKUP_PRE_HOOK: "sh -c 'echo checkpoint failed >&2; exit 3'",
    BACKUP_POST_HOOK: `sh -c 'echo "post [$BACKUP_STATUS] [$BACKUP_ARCHIVE]" >> ${log}'`,
  });
  strictEqual(result.code, 2, result.stderr);
  match(result.stderr, /INFO --pre-hook output stream=stderr line="checkpoint failed"/);
  match(
    result.stderr,
    /ERROR backup failed error="Cannot finish --pre-hook: \\"sh\\" exited with 3"\n$/,
  );
  strictEqual((await listFiles(`${dir.path}/backup`)).some((f) => f.includes(".tar.gz")), false);
  strictEqual(await Deno.readTextFile(log), "post [failed] []\n");
});

Deno.test("backupd now exits 1 when only the post-hook fails, and 2 when a hook outlives its timeout", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/data`);
  const args = ["now", "--source", `${dir.path}/data`, "--dest", `${dir.path}/backup`];
  const post = await backupd([...args, "--post-hook", "false"]);
  strictEqual(post.code, 1, post.stderr);
  match(
    post.stderr,
    /WARN post-hook failed error="Cannot finish --post-hook: \\"false\\" exited with 1"/,
  );

  const slow = await backupd([...args, "--pre-hook", "sleep 30", "--hook-timeout", "1"]);
  strictEqual(slow.code, 2, slow.stderr);
  match(
    slow.stderr,
    /ERROR backup failed error="Cannot finish --pre-hook: still running after 1 s, stopped"/,
  );

  const missing = await backupd([...args, "--pre-hook", "/nonexistent/hook --flag"]);
  strictEqual(missing.code, 2, missing.stderr);
  match(missing.stderr, /error="Cannot run --pre-hook: no such program \\"\/nonexistent\/hook\\""/);
});

Deno.test("backupd now exits 2 with one line for a hook with an unterminated quote", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/data`);
  const result = await backupNow(`${dir.path}/data`, `${dir.path}/b`, [
    "--pre-hook",
    "sh -c 'oops",
  ]);
  strictEqual(result.code, 2);
  strictEqual(
    result.stderr,
    `backupd: Cannot use --pre-hook "sh -c 'oops": unterminated single quote\n`,
  );
});

/** Whether a process whose command line holds `marker` is still running. */
async function running(marker: string): Promise<boolean> {
  return (await run("pgrep", ["-f", marker])).code === 0;
}

Deno.test("backupd now does not wait for what a post-hook left running with its output", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/data`);
  // Like `pg_ctl start` without -l: a server left running, holding the hook's stdout.
  const child = spawnBackupd([
    "now",
    "--source",
    `${dir.path}/data`,
    "--dest",
    `${dir.path}/backup`,
    "--post-hook",
    "sh -c 'sleep 301 & echo started $!'",
  ]);
  let sleeper: number | undefined;
  try {
    const result = await waitFor("backupd now to exit", () => child.output(), 60);
    const stderr = new TextDecoder().decode(result.stderr);
    strictEqual(result.code, 0, stderr);
    sleeper = Number(
      /INFO --post-hook output stream=stdout line="?started (\d+)/.exec(stderr)?.[1],
    );
    // What the hook started is its own business: it is left running.
    strictEqual(Deno.readTextFileSync(`/proc/${sleeper}/cmdline`).split("\0")[0], "sleep");
  } finally {
    // Only the process this test started ends, by its id.
    if (sleeper) Deno.kill(sleeper, "SIGTERM");
    else for (const pid of descendantsOf(child.pid).reverse()) Deno.kill(pid, "SIGKILL");
  }
});

Deno.test("a hook that ignores SIGTERM is killed with its whole group after the timeout", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/data`);
  const result = await backupNow(`${dir.path}/data`, `${dir.path}/backup`, [
    "--pre-hook",
    `sh -c 'trap "" TERM; sleep 302; echo never'`,
    "--hook-timeout",
    "1",
  ]);
  strictEqual(result.code, 2, result.stderr);
  match(
    result.stderr,
    /ERROR backup failed error="Cannot finish --pre-hook: still running after 1 s, stopped"\n$/,
  );
  strictEqual(await running("sleep 302"), false, "the hook's child was killed too");
});

Deno.test("a hook printing 200 MB is logged up to the cap, and backupd's memory stays flat", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/data`);
  const peak = `${dir.path}/peak`;
  // The post-hook floods, then reads backupd's peak RSS (its parent's VmHWM).
  const result = await backupNow(`${dir.path}/data`, `${dir.path}/backup`, [
    "--pre-hook",
    "sh -c 'head -c 100000000 /dev/zero | tr \"\\\\0\" x'",
    "--post-hook",
    `sh -c 'yes backupd | head -c 100000000; grep VmHWM /proc/$PPID/status > ${peak}'`,
  ]);
  strictEqual(result.code, 0, result.stderr.slice(-2000));
  match(result.stderr, /INFO --pre-hook output stream=stdout line="x{2000} \[line cut\]"/);
  match(
    result.stderr,
    /WARN --post-hook output cut: the rest is not logged most_lines=1000 most_chars=262144/,
  );
  strictEqual(
    result.stderr.split("\n").length < 1010,
    true,
    `${result.stderr.split("\n").length} lines of log`,
  );
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(await Deno.readTextFile(peak))?.[1]);
  console.log(`peak RSS with two hooks printing 100 MB each: ${(kb / 1024).toFixed(0)} MB`);
  strictEqual(kb < 300 * 1024, true, `peak RSS ${kb} kB`);
});

Deno.test("SIGTERM to the daemon during a hook that ignores it stops the hook's group and exits 143", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/data`);
  const dest = `${dir.path}/backup`;
  const daemon = spawnDaemon(`${dir.path}/data`, dest, [
    "--run-on-start",
    "--pre-hook",
    `sh -c 'trap "" TERM; sleep 303'`,
  ]);
  const pid = await daemonPid(dest);
  await waitFor("the hook", async () => await running("sleep 303") || undefined);
  signalProcess(pid, "SIGTERM");
  const result = await daemon.output();
  const stderr = new TextDecoder().decode(result.stderr);
  strictEqual(result.code, 143, stderr);
  match(
    stderr,
    /ERROR backup failed reason=start error="Cannot finish the run: interrupted by SIGTERM"/,
  );
  strictEqual(await running("sleep 303"), false, "the hook was killed with its group");
});
