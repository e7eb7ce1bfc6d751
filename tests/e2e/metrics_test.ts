// Prometheus metrics: the textfile passes Debian's promtool, and Debian's prometheus scrapes
// the daemon's /metrics and answers a query with the last success's time; scraping a daemon
// that archives WAL and drills, it loads the shipped alert rules and answers every query of
// the shipped Grafana dashboard with data.

import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import {
  backupNow,
  daemonPid,
  freePort,
  ROOT,
  run,
  signalProcess,
  spawnDaemon,
  tempDir,
  waitFor,
} from "../helpers.ts";
import { baseRecorded, loadedCluster, walDaemon } from "./pitr_load.ts";

/** A metric's value in the text exposition format. */
function valueOf(text: string, name: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(" ")[1]);
}

Deno.test("--metrics-file writes a textfile that promtool accepts, with the run's result and time", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/data`);
  await Deno.writeTextFile(`${dir.path}/data/f`, "x".repeat(3000));
  const file = `${dir.path}/backupd.prom`;
  const before = Date.now() / 1000;
  const made = await backupNow(`${dir.path}/data`, `${dir.path}/backup`, [
    "--metrics-file",
    file,
  ]);
  strictEqual(made.code, 0, made.stderr);
  const text = await Deno.readTextFile(file);
  const check = await run("sh", ["-c", `promtool check metrics < "${file}"`]);
  strictEqual(check.code, 0, check.stdout + check.stderr);
  const success = valueOf(text, "backupd_last_success_timestamp_seconds") ?? 0;
  strictEqual(success >= before && success <= Date.now() / 1000, true, text);
  strictEqual(valueOf(text, "backupd_last_run_result"), 0);
  strictEqual(valueOf(text, "backupd_last_run_bytes_in"), 3000);
  strictEqual(valueOf(text, "backupd_archives"), 1);
  match(text, /^backupd_runs_total\{result="ok"\} 1$/m);
  // Without a bucket there is no upload to report, not a 0 that looks like a failed one.
  strictEqual(text.includes("backupd_last_upload_success"), false, text);

  // A failed run: result 2, the last success kept.
  const failed = await backupNow(`${dir.path}/missing`, `${dir.path}/backup`, [
    "--metrics-file",
    file,
  ]);
  strictEqual(failed.code, 2);
  const after = await Deno.readTextFile(file);
  strictEqual(valueOf(after, "backupd_last_run_result"), 2);
  strictEqual((valueOf(after, "backupd_last_run_timestamp_seconds") ?? 0) >= success, true);
  // Each `now` is a process of its own: the failed run's file takes the last success from
  // the newest archive's name (whole seconds, when it started).
  const kept = valueOf(after, "backupd_last_success_timestamp_seconds") ?? 0;
  strictEqual(kept <= success && kept > success - 60, true, after);
  match(after, /^backupd_runs_total\{result="failed"\} 1$/m);
});

Deno.test("prometheus scrapes the daemon's /metrics and its query API returns the last success time", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/data`);
  await Deno.writeTextFile(`${dir.path}/data/f`, "payload");
  const dest = `${dir.path}/backup`;
  const port = freePort();
  const daemon = spawnDaemon(`${dir.path}/data`, dest, ["--metrics-listen", `127.0.0.1:${port}`]);
  const promPort = freePort();
  let prometheus: Deno.ChildProcess | undefined;
  try {
    const pid = await daemonPid(dest);
    signalProcess(pid, "SIGUSR1");
    const served = await waitFor("a success in /metrics", async () => {
      try {
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        return (valueOf(text, "backupd_last_success_timestamp_seconds") ?? 0) > 0
          ? text
          : undefined;
      } catch {
        return undefined;
      }
    });
    const success = valueOf(served, "backupd_last_success_timestamp_seconds") as number;

    prometheus = startPrometheus(dir.path, `127.0.0.1:${port}`, promPort);
    const answered = await waitFor("prometheus's answer", async () => {
      try {
        const response = await fetch(
          `http://127.0.0.1:${promPort}/api/v1/query?query=backupd_last_success_timestamp_seconds`,
        );
        const body = await response.json();
        const value = body?.data?.result?.[0]?.value?.[1];
        return value === undefined ? undefined : Number(value);
      } catch {
        return undefined;
      }
    }, 90);
    strictEqual(answered, success);
    signalProcess(pid, "SIGTERM");
    strictEqual((await daemon.output()).code, 0);
  } finally {
    prometheus?.kill("SIGTERM");
    await prometheus?.status;
    try {
      daemon.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }
});

Deno.test("--metrics-listen PORT serves on 127.0.0.1 only; every interface only as 0.0.0.0:PORT", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/data`);
  const cases = [["PORT", "127.0.0.1"], ["0.0.0.0:PORT", "0.0.0.0"]] as const;
  for (const [given, at] of cases) {
    const port = freePort();
    const dest = `${dir.path}/backup-${at}`;
    const daemon = spawnDaemon(`${dir.path}/data`, dest, [
      "--metrics-listen",
      given.replace("PORT", String(port)),
    ]);
    const pid = await daemonPid(dest);
    await waitFor("the metrics port", async () => {
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port })).close();
        return true;
      } catch {
        return undefined; // Not listening yet.
      }
    });
    signalProcess(pid, "SIGTERM");
    const result = await daemon.output();
    const stderr = new TextDecoder().decode(result.stderr);
    strictEqual(result.code, 0, stderr);
    match(
      stderr,
      new RegExp(`INFO metrics served at=http://${at.replaceAll(".", "\\.")}:${port}/metrics`),
    );
  }
});

Deno.test("a metrics address that is taken stops the daemon at start with one line, exit 2", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/data`);
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (taken.addr as Deno.NetAddr).port;
  const result = await spawnDaemon(`${dir.path}/data`, `${dir.path}/backup`, [
    "--metrics-listen",
    `127.0.0.1:${port}`,
  ]).output();
  const stderr = new TextDecoder().decode(result.stderr);
  strictEqual(result.code, 2, stderr);
  match(
    stderr,
    new RegExp(`^backupd: Cannot serve metrics on 127\\.0\\.0\\.1:${port}: .*in use`, "m"),
  );
  strictEqual(stderr.includes("unexpected error"), false, stderr);
});

/** Starts Debian's prometheus scraping `target` every second, with `rules` loaded. */
function startPrometheus(dir: string, target: string, port: number, rules?: string) {
  Deno.writeTextFileSync(
    `${dir}/prometheus.yml`,
    `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n${
      rules ? `rule_files:\n  - ${rules}\n` : ""
    }scrape_configs:\n  - job_name: backupd\n    static_configs:\n      - targets: ["${target}"]\n`,
  );
  return new Deno.Command("prometheus", {
    args: [
      `--config.file=${dir}/prometheus.yml`,
      `--storage.tsdb.path=${dir}/tsdb`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
}

/** An instant query's result vector; none when prometheus does not answer yet. */
async function instant(port: number, query: string): Promise<unknown[] | undefined> {
  try {
    const response = await fetch(
      `http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(query)}`,
    );
    const body = await response.json();
    return body?.status === "success" ? body.data.result : undefined;
  } catch {
    return undefined; // Not up yet.
  }
}

Deno.test("prometheus scraping a daemon that archives WAL and drills loads the shipped rules and answers every query of the shipped dashboard", async () => {
  await using work = await tempDir("backupd-metrics-pg-");
  const db = await loadedCluster(work.path, 1);
  const dest = `${work.path}/backup`;
  const port = freePort();
  const promPort = freePort();
  let prometheus: Deno.ChildProcess | undefined;
  try {
    await using _daemon = await walDaemon(db, dest, {
      interval: "1s",
      extra: [
        "--run-on-start",
        "--metrics-listen",
        `127.0.0.1:${port}`,
        "--drill-schedule",
        "* * * * *",
      ],
    });
    await baseRecorded(dest);
    // The drill gauges appear with the first drill, at the next minute.
    await waitFor("a drill's metrics", async () => {
      try {
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        return valueOf(text, "backupd_drill_rto_seconds") !== undefined || undefined;
      } catch {
        return undefined; // Not served yet.
      }
    }, 180);
    prometheus = startPrometheus(
      work.path,
      `127.0.0.1:${port}`,
      promPort,
      `${ROOT}/deploy/prometheus/backupd-rules.yml`,
    );
    await waitFor(
      "three scrapes of the drill's metrics",
      async () =>
        ((await instant(promPort, "count_over_time(backupd_drill_result[1m]) >= 3")) ?? []).length >
          0 ||
        undefined,
      90,
    );
    const dashboard = JSON.parse(
      await Deno.readTextFile(`${ROOT}/deploy/grafana/backupd-dashboard.json`),
    );
    const queries: string[] = dashboard.panels.flatMap((p: { targets: { expr: string }[] }) =>
      p.targets.map((t) => t.expr)
    );
    strictEqual(queries.length >= 12, true);
    const empty: string[] = [];
    for (const query of queries) {
      const result = await instant(promPort, query);
      if (!result || result.length === 0) empty.push(query);
    }
    deepStrictEqual(empty, [], "dashboard queries without data");
    // The rules load and evaluate without errors; with all well, none fires.
    const rules = await waitFor("the rules evaluated", async () => {
      const body = await (await fetch(`http://127.0.0.1:${promPort}/api/v1/rules`)).json();
      const all = body?.data?.groups?.flatMap((g: { rules: unknown[] }) => g.rules) ?? [];
      return all.length > 0 &&
          all.every((r: { lastEvaluation?: string }) =>
            r.lastEvaluation && !r.lastEvaluation.startsWith("0001")
          )
        ? all as { name: string; health: string; state: string }[]
        : undefined;
    });
    strictEqual(rules.length, 9);
    deepStrictEqual(rules.filter((r) => r.health !== "ok").map((r) => r.name), []);
    deepStrictEqual(rules.filter((r) => r.state === "firing").map((r) => r.name), []);
  } finally {
    prometheus?.kill("SIGTERM");
    await prometheus?.status;
    await db.stop();
  }
});
