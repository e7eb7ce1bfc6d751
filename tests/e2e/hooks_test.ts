// Pre- and post-hooks on real runs: order, environment, failures, timeouts, bad commands.

import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import { backupd, backupNow, listFiles, tempDir } from "../helpers.ts";

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
    /ERROR backup failed error="Cannot finish --pre-hook: still running after 1 s, killed"/,
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
