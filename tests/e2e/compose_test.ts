// The docker-compose stack for real: the project's docker-compose.yaml with test stand-ins
// swapped in by tests/e2e/compose/compose.override.yaml (no image can be pulled here).

import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import { backupd, listFiles, randomFile, run, tempDir, waitFor } from "../helpers.ts";
import { composeProject, DOCKER, inspect, PSQL, queryRestored } from "./docker_helpers.ts";
import { BATCH, startLoad } from "./load.ts";
import { PG_BIN } from "./local_pg.ts";

Deno.test("the compose stack backs up the database, turns healthy, stops cleanly, and its archive restores", async (t) => {
  await using work = await tempDir("backupd-compose-");
  const stack = await composeProject(work.path);
  const { name, run: compose } = stack;
  const project = stack.dir;
  const container = `${name}_backup_1`;
  const health = () => inspect(container, "{{.State.Health.Status}}");
  const archives = async () =>
    (await listFiles(`${project}/backup`)).filter((f) =>
      /^\d{4}-\d\d-\d\d\/\d\d-\d\d-\d\d(-\d+)?\.tar\.gz$/.test(f)
    );

  /** Transactions acknowledged before the first backup started. */
  let committedBefore = 0;
  try {
    const up = await compose("up", "-d", "--build");
    strictEqual(up.code, 0, up.stderr);
    const seeded = await compose(
      "exec",
      "-T",
      "employee-db",
      ...PSQL,
      "-c",
      "CREATE TABLE staff (id int PRIMARY KEY, name text); INSERT INTO staff SELECT g, 'employee ' || g FROM generate_series(1, 5000) g; CHECKPOINT;",
    );
    strictEqual(seeded.code, 0, seeded.stderr);

    await t.step(
      "exec ... now under write load backs up through PostgreSQL's backup API",
      async () => {
        const load = await startLoad([DOCKER, "exec", "-i", `${name}_employee-db_1`, ...PSQL]);
        await waitFor("some committed rows", () => load.acks.length >= 20 || undefined);
        committedBefore = load.acks.length;
        const now = await compose("exec", "-T", "backup", "backupd", "now");
        const seen = load.acks.length;
        // The database kept serving: commits went on during and after the backup.
        await waitFor("commits after the backup", () => load.acks.length > seen + 5 || undefined);
        await load.stop();
        strictEqual(now.code, 0, now.stderr);
        match(
          now.stderr,
          /INFO postgres backup started server="employee-db:5432\/employees as employees"/,
        );
        match(now.stderr, /INFO postgres backup stopped .* wal_segments=[1-9]/);
        match(
          now.stderr,
          /INFO backup done archive=\d{4}-\d\d-\d\d\/\d\d-\d\d-\d\d\.tar\.gz files=\d+ .* warnings=0/,
        );
        strictEqual(now.stderr.includes("change-me"), false, "the password is never logged");
        strictEqual((await archives()).length, 1);
      },
    );

    await t.step("the stack's server limits the WAL the slot may hold", async () => {
      const shown = await compose(
        "exec",
        "-T",
        "employee-db",
        ...PSQL,
        "-tA",
        "-c",
        "SHOW max_slot_wal_keep_size",
      );
      strictEqual(shown.code, 0, shown.stderr);
      strictEqual(shown.stdout.trim(), "10GB");
    });

    await t.step("kill -s USR1 puts another archive on the host", async () => {
      const before = await archives();
      strictEqual((await compose("kill", "-s", "USR1", "backup")).code, 0);
      const added = await waitFor("the SIGUSR1 archive", async () => {
        const now = await archives();
        return now.length > before.length &&
            (await listFiles(`${project}/backup`)).some((f) => f === `${now.at(-1)}.sha256`)
          ? now
          : undefined;
      });
      strictEqual(added.length, 2);
    });

    await t.step("/data is read-only inside the container", async () => {
      const touch = await compose("exec", "-T", "backup", "sh", "-c", "touch /data/probe");
      strictEqual(touch.code === 0, false);
      match(touch.stderr, /Read-only file system/);
    });

    await t.step("the container turns healthy", async () => {
      strictEqual(
        await waitFor(
          "a healthy backup container",
          async () => (await health()) === "healthy" ? true : undefined,
        ),
        true,
      );
    });

    await t.step(
      "docker-compose stop during a run ends it at once, with no partial left",
      async () => {
        // 300 MB that do not compress make the run long enough to be stopped in the middle.
        await randomFile(`${project}/dbdata/zz-ballast`, 300);
        strictEqual((await compose("kill", "-s", "USR1", "backup")).code, 0);
        await waitFor(
          "the run's partial file",
          async () => (await listFiles(`${project}/backup`)).find((f) => f.endsWith(".partial")),
        );
        const started = performance.now();
        const stop = await compose("stop", "-t", "10", "backup");
        const seconds = (performance.now() - started) / 1000;
        strictEqual(stop.code, 0, stop.stderr);
        // 143: backupd itself exited on SIGTERM (137 would mean Docker had to kill it after 10 s).
        strictEqual(
          (await run(DOCKER, ["inspect", "-f", "{{.State.ExitCode}}", container])).stdout.trim(),
          "143",
        );
        console.log(`docker-compose stop took ${seconds.toFixed(2)} s`);
        strictEqual(
          (await listFiles(`${project}/backup`)).some((f) => f.endsWith(".partial")),
          false,
        );
        strictEqual((await archives()).length, 2);
        await Deno.remove(`${project}/dbdata/zz-ballast`);
      },
    );

    await t.step(
      "the archive made under load restores, passes pg_verifybackup and starts consistent",
      async () => {
        const archive = (await archives())[0] ?? "";
        const restored = await backupd([
          "restore",
          archive,
          "--dest",
          `${project}/backup`,
          "--to",
          `${work.path}/restored`,
        ]);
        strictEqual(restored.code, 0, restored.stderr);
        const verified = await run(`${PG_BIN}/pg_verifybackup`, [`${work.path}/restored`]);
        strictEqual(verified.code, 0, verified.stdout + verified.stderr);
        const { rows, log } = await queryRestored(
          name,
          `${work.path}/restored`,
          "SELECT (SELECT count(*) || '|' || sum(id) FROM staff) || '|' || " +
            "(SELECT count(*) || '|' || coalesce(min(id), 0) || '|' || coalesce(max(id), 0) FROM drill)",
        );
        match(log, /completed backup recovery with redo LSN/);
        const [staff, staffSum, count = -1, min, max] = rows.split("|").map(Number);
        deepStrictEqual([staff, staffSum], [5000, (5000 * 5001) / 2]);
        strictEqual(count % BATCH, 0, `${count} rows is not a whole number of transactions`);
        strictEqual(
          count >= committedBefore * BATCH,
          true,
          `${count} rows, ${committedBefore} before`,
        );
        deepStrictEqual([min, max], [1, count]);
      },
    );
    await t.step(
      "the stack archives WAL by default: restore --to-time gives a folder employee-db starts at that moment",
      async () => {
        const walState = async () =>
          JSON.parse(await Deno.readTextFile(`${project}/backup/.backupd/wal.json`));
        const caughtUpAfter = (since: number) =>
          waitFor("the WAL archived", async () => {
            try {
              return Date.parse((await walState()).caughtUp ?? 0) > since + 100 || undefined;
            } catch {
              return undefined;
            }
          }, 90);
        const insert = (from: number, to: number) =>
          compose(
            "exec",
            "-T",
            "employee-db",
            ...PSQL,
            "-c",
            `CREATE TABLE IF NOT EXISTS moments (id int); INSERT INTO moments SELECT generate_series(${from}, ${to});`,
          );
        // The step before stopped the backup service: up again, it archives from where it was.
        strictEqual((await compose("start", "backup")).code, 0);
        await caughtUpAfter(Date.now());
        strictEqual((await insert(1, 100)).code, 0);
        const between = Date.now() + 500;
        await waitFor("half a second", () => Date.now() > between + 500 || undefined);
        strictEqual((await insert(101, 200)).code, 0);
        await caughtUpAfter(Date.now());
        // As README's compose recipe types it: the restore service, into ./restored.
        const into = `${project}/restored`;
        const restored = await compose(
          "run",
          "--rm",
          "restore",
          "--to-time",
          new Date(between).toISOString(),
        );
        strictEqual(restored.code, 0, restored.stdout + restored.stderr);
        const { rows, log } = await queryRestored(
          name,
          into,
          "SELECT 1 / (NOT pg_is_in_recovery())::int, count(*), max(id) FROM moments",
        );
        strictEqual(rows, "1|100|100", log);
        match(log, /recovery stopping before commit of transaction \d+, time /);
        match(log, /selected new timeline ID: 2/);
        await Deno.remove(into, { recursive: true });
      },
    );

    await t.step(
      "a bad DELETE on the stack's own database: README's compose recipe puts the rows back with the rest untouched",
      async () => {
        const sql = async (text: string) => {
          const out = await compose("exec", "-T", "employee-db", ...PSQL, "-tA", "-c", text);
          strictEqual(out.code, 0, out.stderr);
          return out.stdout.trim();
        };
        const wal = async () =>
          JSON.parse(await Deno.readTextFile(`${project}/backup/.backupd/wal.json`));
        const moment = Date.now() + 500;
        await waitFor("the moment to pass", () => Date.now() > moment + 500 || undefined);
        await sql("DELETE FROM staff WHERE id % 10 = 0; INSERT INTO moments VALUES (999)");
        const since = Date.now();
        await waitFor(
          "the DELETE archived",
          async () => Date.parse((await wal()).caughtUp ?? 0) > since + 100 || undefined,
          90,
        );
        // README's first step: the DELETE found in the archived WAL, with its xid.
        const commits = await compose(
          "run",
          "--rm",
          "--entrypoint",
          "/usr/local/bin/backupd",
          "dump",
          "wal",
          "commits",
          "--from",
          new Date(moment).toISOString(),
          "--to",
          new Date().toISOString(),
          "--table",
          "public.staff",
        );
        strictEqual(commits.code, 0, commits.stdout + commits.stderr);
        const xid = / xid (\d+) {2}COMMIT {2}public\.staff: 500 deleted(;|$)/m.exec(commits.stdout)
          ?.[1];
        strictEqual(typeof xid, "string", commits.stdout);
        const out = await compose(
          "run",
          "--rm",
          "dump",
          "--to-time",
          `before-xid:${xid}`,
          "--table",
          "public.staff",
          "--into",
        );
        strictEqual(out.code, 0, out.stdout + out.stderr);
        const schema = /created schema (restored_\d{8}_\d{6}) in database employees/.exec(
          out.stdout,
        )?.[1];
        strictEqual(typeof schema, "string", out.stdout);
        strictEqual(await sql(`SELECT count(*) FROM ${schema}.staff`), "5000");
        strictEqual(await sql("SELECT count(*) FROM staff"), "4500");
        await sql(
          `INSERT INTO staff SELECT r.* FROM ${schema}.staff r WHERE NOT EXISTS (SELECT 1 FROM staff s WHERE s.id = r.id)`,
        );
        strictEqual(
          await sql("SELECT count(*) || '|' || sum(id) FROM staff"),
          `5000|${(5000 * 5001) / 2}`,
        );
        strictEqual(await sql("SELECT count(*) FROM moments WHERE id = 999"), "1");
      },
    );
    await t.step(
      "the restore-drill service drills the stack's newest archive with no network and turns healthy",
      async () => {
        const drilled = await compose(
          "run",
          "--rm",
          "restore-drill",
          "drill",
          "--json",
          "--drill-check",
          "SELECT count(*) = 5000 FROM staff",
        );
        strictEqual(drilled.code, 0, drilled.stdout + drilled.stderr);
        const report = JSON.parse(drilled.stdout);
        strictEqual(report.result, "passed");
        strictEqual(report.archive, (await archives()).at(-1));
        deepStrictEqual(report.checks.map((c: { ok: boolean }) => c.ok), [true]);
        strictEqual(report.seconds.verify > 0 && report.seconds.amcheck > 0, true);
        // The service as `up` started it: no network, a memory limit, its own state.
        const service = `${name}_restore-drill_1`;
        strictEqual(await inspect(service, "{{.HostConfig.NetworkMode}}"), "none");
        strictEqual(await inspect(service, "{{.HostConfig.Memory}}"), String(1024 ** 3));
        const health = await compose("run", "--rm", "restore-drill", "health");
        strictEqual(health.code, 0, health.stdout + health.stderr);
        // ./backup was mounted read-only: the drill's record is in its own volume.
        strictEqual(
          await Deno.stat(`${project}/backup/.backupd/drills.json`).then(() => true, () => false),
          false,
        );
      },
    );
    await t.step(
      "run --rm restore latest restores into ./restored without Deno on the host, owners kept",
      async () => {
        const newest = (await archives()).at(-1) ?? "";
        // README's compose restore, as typed: list, verify, restore, pg_verifybackup.
        const listed = await compose("run", "--rm", "--no-deps", "backup", "list");
        strictEqual(listed.code, 0, listed.stderr);
        match(listed.stdout, new RegExp(`^${newest.replace(".", "\\.")} `, "m"));
        const verified = await compose("run", "--rm", "--no-deps", "backup", "verify", "latest");
        strictEqual(verified.code, 0, verified.stderr);
        match(verified.stdout, /^OK /);
        const restored = await compose("run", "--rm", "restore", "latest");
        strictEqual(restored.code, 0, restored.stdout + restored.stderr);
        match(
          restored.stderr,
          new RegExp(`INFO restore done archive=/backup/${newest.replace(".", "\\.")}`),
        );
        const version = await Deno.stat(`${project}/restored/PG_VERSION`);
        deepStrictEqual([version.uid, version.gid], [999, 999]);
        const checked = await compose(
          "run",
          "--rm",
          "--no-deps",
          "--entrypoint",
          "pg_verifybackup",
          "-u",
          "postgres",
          "-v",
          `${project}/restored:/restored`,
          "employee-db",
          "/restored",
        );
        strictEqual(checked.code, 0, checked.stdout + checked.stderr);
        match(checked.stdout, /backup successfully verified/);
        // ./restored is not empty now: a second restore refuses it, changing nothing.
        const again = await compose("run", "--rm", "restore", "latest");
        strictEqual(again.code, 2, again.stderr);
        match(again.stderr, /Cannot restore into "\/restored": not empty/);
      },
    );
  } finally {
    const logs = await compose("logs", "--no-color");
    if (logs.code !== 0) console.log(logs.stderr);
    await compose("down", "-v", "--remove-orphans");
  }
});
