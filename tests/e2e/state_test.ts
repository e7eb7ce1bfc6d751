// What an operator can do to DEST's state never reads "unexpected error": a DEST turned
// read-only, a damaged state file. Health says unhealthy, with the reason.

import { match, strictEqual } from "node:assert/strict";
import { backupd, backupNow, run, tempDir } from "../helpers.ts";

Deno.test("a DEST turned read-only fails the run in one line, and health turns unhealthy", async () => {
  await using work = await tempDir();
  const dest = `${work.path}/dest`;
  await Deno.mkdir(`${work.path}/src`);
  await Deno.writeTextFile(`${work.path}/src/a`, "a");
  await Deno.mkdir(dest);
  strictEqual((await run("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", dest])).code, 0);
  try {
    const good = await backupNow(`${work.path}/src`, dest);
    strictEqual(good.code, 0, good.stderr);
    strictEqual((await backupd(["health", "--dest", dest])).code, 0);
    strictEqual((await run("mount", ["-o", "remount,ro", dest])).code, 0);

    const result = await backupNow(`${work.path}/src`, dest);
    strictEqual(result.code, 2, result.stderr);
    const lines = result.stderr.split("\n").filter((l) => l !== "");
    strictEqual(lines.length, 1, result.stderr);
    match(
      lines[0] ?? "",
      /^backupd: Cannot use --dest "[^"]+": not writable: read-only file system$/,
    );

    const health = await backupd(["health", "--dest", dest]);
    strictEqual(health.code, 1, health.stdout + health.stderr);
    strictEqual(
      health.stdout,
      `unhealthy: runs cannot record their results: "${dest}/.backupd" is not writable (read-only file system)\n`,
    );
    strictEqual(health.stderr, "");
  } finally {
    await run("umount", [dest]);
  }
});

Deno.test("a damaged status.json makes health unhealthy with the reason, and the next run rewrites it", async () => {
  await using work = await tempDir();
  const dest = `${work.path}/dest`;
  await Deno.mkdir(`${work.path}/src`);
  await Deno.mkdir(`${dest}/.backupd`, { recursive: true });
  await Deno.writeTextFile(`${dest}/.backupd/status.json`, '{"result": "ok", ');
  const health = await backupd(["health", "--dest", dest]);
  strictEqual(health.code, 1, health.stdout + health.stderr);
  strictEqual(
    health.stdout,
    `unhealthy: Cannot read "${dest}/.backupd/status.json": not valid JSON (the next run rewrites it)\n`,
  );
  strictEqual(health.stderr, "");

  const result = await backupNow(`${work.path}/src`, dest);
  strictEqual(result.code, 0, result.stderr);
  strictEqual(JSON.parse(await Deno.readTextFile(`${dest}/.backupd/status.json`)).result, "ok");
  strictEqual((await backupd(["health", "--dest", dest])).code, 0);
});
