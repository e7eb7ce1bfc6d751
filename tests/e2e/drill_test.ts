// The restore drill in the compose stack: PostgreSQL under steady write load, a backup with
// the database paused (or stopped), then the archive restored and started. Every row
// committed before the quiesce must be there, in whole transactions.

import { match, strictEqual } from "node:assert/strict";
import { backupd, listFiles, tempDir, waitFor } from "../helpers.ts";
import { composeProject, DOCKER, inspect, PSQL, queryRestored } from "./docker_helpers.ts";
import { BATCH, startLoad } from "./load.ts";

for (
  const [mode, override, verb] of [["pause", [], "paused"], [
    "stop",
    ["stop.override.yaml"],
    "stopped",
  ]] as const
) {
  Deno.test(`a backup in ${mode} mode under write load restores every committed transaction`, async () => {
    await using work = await tempDir("backupd-drill-");
    const stack = await composeProject(work.path, ["socket.override.yaml", ...override]);
    const db = `${stack.name}_employee-db_1`;
    try {
      const up = await stack.run("up", "-d", "--build");
      strictEqual(up.code, 0, up.stderr);
      await waitFor(
        "a healthy database",
        async () => (await inspect(db, "{{.State.Health.Status}}")) === "healthy" || undefined,
      );
      const load = await startLoad([DOCKER, "exec", "-i", db, ...PSQL]);
      await waitFor("some committed rows", () => load.acks.length >= 20 || undefined);

      const backup = await stack.run("exec", "-T", "backup", "backupd", "now");
      strictEqual(backup.code, 0, backup.stderr);
      const quiesced = Date.parse(
        new RegExp(`^(\\S+) INFO ${verb} container container=${db}$`, "m").exec(backup.stderr)
          ?.[1] ?? "",
      );
      strictEqual(Number.isNaN(quiesced), false, backup.stderr);
      match(
        backup.stderr,
        new RegExp(`INFO ${mode === "pause" ? "unpaused" : "started"} container container=${db}`),
      );
      if (mode === "pause") {
        // The database came back and the load went on after the backup.
        const seen = load.acks.length;
        await waitFor("commits after the backup", () => load.acks.length > seen + 5 || undefined);
      } else {
        strictEqual(await inspect(db, "{{.State.Running}}"), "true");
      }
      await load.stop();
      const committedBefore = load.acks.filter((t) => t < quiesced).length;

      const archive = (await listFiles(`${stack.dir}/backup`)).find((f) => f.endsWith(".tar.gz")) ??
        "";
      const restored = await backupd([
        "restore",
        archive,
        "--dest",
        `${stack.dir}/backup`,
        "--to",
        `${work.path}/restored`,
      ]);
      strictEqual(restored.code, 0, restored.stderr);
      const { rows, log } = await queryRestored(
        stack.name,
        `${work.path}/restored`,
        "SELECT count(*), coalesce(min(id), 0), coalesce(max(id), 0) FROM drill",
      );
      const [count = -1, min = -1, max = -1] = rows.split("|").map(Number);
      match(log, /database system is ready to accept connections/);
      strictEqual(/PANIC|FATAL: {2}could not/.test(log), false, log);
      console.log(
        `${mode}: ${committedBefore} transactions acknowledged before the ${mode}; ${
          count / BATCH
        } restored`,
      );
      strictEqual(count % BATCH, 0, `${count} rows is not a whole number of transactions`);
      strictEqual(
        count >= committedBefore * BATCH,
        true,
        `${count} rows, but ${committedBefore} transactions committed before`,
      );
      strictEqual([min, max].join(","), count === 0 ? "0,0" : `1,${count}`);
      strictEqual(committedBefore > 0, true);
    } finally {
      await stack.run("down", "-v", "--remove-orphans");
    }
  });
}
