// The restore drill without Docker: a local PostgreSQL under write load, stopped by the
// pre-hook and started again by the post-hook; the archive restored and started.

import { match, strictEqual } from "node:assert/strict";
import { backupd, backupNow, listFiles, run, tempDir, waitFor } from "../helpers.ts";
import { BATCH, startLoad } from "./load.ts";

const BIN = "/usr/lib/postgresql/15/bin";

function asPostgres(...args: string[]): string[] {
  return ["runuser", "-u", "postgres", "--", ...args];
}

async function mustRun(args: string[], what: string): Promise<string> {
  const [cmd, ...rest] = args;
  const result = await run(cmd as string, rest);
  strictEqual(result.code, 0, `${what}: ${result.stdout}${result.stderr}`);
  return result.stdout;
}

function pgCtl(data: string, sockets: string, port: number, action: "start" | "stop"): string[] {
  return action === "start"
    ? asPostgres(
      `${BIN}/pg_ctl`,
      "-D",
      data,
      "-l",
      `${data}.log`,
      "-w",
      "-o",
      `-k ${sockets} -p ${port} -c listen_addresses=''`,
      "start",
    )
    : asPostgres(`${BIN}/pg_ctl`, "-D", data, "-m", "fast", "-w", "stop");
}

Deno.test("a backup with hooks that stop and start a local PostgreSQL restores every committed transaction", async () => {
  await using work = await tempDir("backupd-local-drill-");
  await Deno.chmod(work.path, 0o755);
  const data = `${work.path}/pgdata`;
  const sockets = `${work.path}/sockets`;
  await Deno.mkdir(sockets);
  await mustRun(["chown", "postgres:", sockets, work.path], "chown");
  await mustRun(
    asPostgres(`${BIN}/initdb`, "-D", data, "--auth=trust", "-U", "postgres"),
    "initdb",
  );
  await mustRun(pgCtl(data, sockets, 54391, "start"), "starting PostgreSQL");
  try {
    const load = await startLoad(
      asPostgres(
        `${BIN}/psql`,
        "-h",
        sockets,
        "-p",
        "54391",
        "-d",
        "postgres",
        "-v",
        "ON_ERROR_STOP=1",
      ),
    );
    await waitFor("some committed rows", () => load.acks.length >= 20 || undefined);
    const quote = (words: string[]) => words.map((w) => `'${w}'`).join(" ");
    const marker = `${work.path}/stopped-at`;
    const result = await backupNow(data, `${work.path}/backup`, [
      "--pre-hook",
      `sh -c "${
        quote(pgCtl(data, sockets, 54391, "stop")).replaceAll('"', '\\"')
      } && date +%s%3N > ${marker}"`,
      "--post-hook",
      quote(pgCtl(data, sockets, 54391, "start")),
    ]);
    strictEqual(result.code, 0, result.stderr);
    await load.stop();
    const stoppedAt = Number(await Deno.readTextFile(marker));
    const committedBefore = load.acks.filter((t) => t < stoppedAt).length;
    // The post-hook started the database again.
    await mustRun(
      asPostgres(`${BIN}/pg_ctl`, "-D", data, "status"),
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
    await mustRun(pgCtl(restoredDir, sockets, 54392, "start"), "starting the restored PostgreSQL");
    try {
      const out = await mustRun(
        asPostgres(
          `${BIN}/psql`,
          "-h",
          sockets,
          "-p",
          "54392",
          "-d",
          "postgres",
          "-tA",
          "-c",
          "SELECT count(*), coalesce(min(id), 0), coalesce(max(id), 0) FROM drill",
        ),
        "query",
      );
      const [count = -1, min = -1, max = -1] = out.trim().split("|").map(Number);
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
      await run(
        pgCtl(restoredDir, sockets, 54392, "stop")[0] as string,
        pgCtl(restoredDir, sockets, 54392, "stop").slice(1),
      );
    }
  } finally {
    await run(
      pgCtl(data, sockets, 54391, "stop")[0] as string,
      pgCtl(data, sockets, 54391, "stop").slice(1),
    );
  }
});
