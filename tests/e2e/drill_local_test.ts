// The restore drill without Docker: a local PostgreSQL under write load, stopped by the
// pre-hook and started again by the post-hook; the archive restored and started.

import { match, strictEqual } from "node:assert/strict";
import { backupd, backupNow, listFiles, tempDir, waitFor } from "../helpers.ts";
import { asPostgres, cluster, mustRun } from "./local_pg.ts";
import { BATCH, startLoad } from "./load.ts";

Deno.test("a backup with hooks that stop and start a local PostgreSQL restores every committed transaction", async () => {
  await using work = await tempDir("backupd-local-drill-");
  await Deno.chmod(work.path, 0o755);
  const db = await cluster(work.path, `${work.path}/pgdata`, {});
  await db.start();
  try {
    const load = await startLoad(
      asPostgres("psql", ...db.socketArgs, "-d", "postgres", "-v", "ON_ERROR_STOP=1"),
    );
    await waitFor("some committed rows", () => load.acks.length >= 20 || undefined);
    const quote = (words: string[]) => words.map((w) => `'${w}'`).join(" ");
    const marker = `${work.path}/stopped-at`;
    const result = await backupNow(db.data, `${work.path}/backup`, [
      "--pre-hook",
      `sh -c "${quote(db.stopWords).replaceAll('"', '\\"')} && date +%s%3N > ${marker}"`,
      "--post-hook",
      quote(db.startWords),
    ]);
    strictEqual(result.code, 0, result.stderr);
    await load.stop();
    const stoppedAt = Number(await Deno.readTextFile(marker));
    const committedBefore = load.acks.filter((t) => t < stoppedAt).length;
    // The post-hook started the database again.
    await mustRun(
      asPostgres("pg_ctl", "-D", db.data, "status"),
      "PostgreSQL running after the backup",
    );

    const archive = (await listFiles(`${work.path}/backup`)).find((f) => f.endsWith(".tar.gz")) ??
      "";
    const restoredDir = `${work.path}/restored`;
    const restored = await backupd([
      "restore",
      archive,
      "--dest",
      `${work.path}/backup`,
      "--to",
      restoredDir,
    ]);
    strictEqual(restored.code, 0, restored.stderr);
    const copy = await cluster(work.path, restoredDir);
    await copy.start();
    try {
      const out = await copy.psql(
        "SELECT count(*), coalesce(min(id), 0), coalesce(max(id), 0) FROM drill",
      );
      const [count = -1, min = -1, max = -1] = out.split("|").map(Number);
      match(
        await Deno.readTextFile(`${restoredDir}.log`),
        /database system is ready to accept connections/,
      );
      console.log(
        `hooks: ${committedBefore} transactions acknowledged before the stop; ${
          count / BATCH
        } restored`,
      );
      strictEqual(committedBefore > 0, true);
      strictEqual(count % BATCH, 0);
      strictEqual(
        count,
        committedBefore * BATCH,
        "a stopped database holds exactly what was committed before",
      );
      strictEqual(`${min},${max}`, `1,${count}`);
    } finally {
      await copy.stop();
    }
  } finally {
    // Stops the server the post-hook started.
    await db.stop();
  }
});
