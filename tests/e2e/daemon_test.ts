// `backupd run` as a real process: signals during a run and when idle, SIGUSR1, the lock
// against `backupd now`, health, JSON logs and pings against a real HTTP server.

import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import {
  backupd,
  backupNow,
  daemonPid,
  descendantsOf,
  freePort,
  listFiles,
  NEVER,
  onlyArchive,
  randomFile,
  run,
  signalProcess,
  spawnDaemon,
  tempDir,
  waitFor,
} from "../helpers.ts";

const MB = 1_000_000;
const decoder = new TextDecoder();

async function randomFiles(dir: string, count: number, megabytes: number): Promise<void> {
  for (let i = 0; i < count; i++) await randomFile(`${dir}/f${i}`, megabytes);
}

/** Starts `backupd run` on a schedule that never fires: its runs come from the test. */
function startDaemon(source: string, dest: string, ...extra: string[]): Deno.ChildProcess {
  return spawnDaemon(source, dest, extra);
}

async function partialSize(dest: string): Promise<number | undefined> {
  for (const file of await listFiles(dest)) {
    if (file.endsWith(".tar.gz.partial")) {
      return await Deno.stat(`${dest}/${file}`).then((s) => s.size, () => undefined);
    }
  }
  return undefined;
}

for (const [signal, code] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
  Deno.test(`backupd run abandons a run on ${signal}, removes the partial and exits ${code}`, async () => {
    await using dir = await tempDir();
    const dest = `${dir.path}/backup`;
    await randomFiles(`${dir.path}/data`, 7, 100);
    const child = startDaemon(`${dir.path}/data`, dest, "--run-on-start");
    const started = performance.now();
    const pid = await daemonPid(dest);
    const written = await waitFor("20 MB of archive", async () => {
      const size = await partialSize(dest);
      return size !== undefined && size > 20 * MB ? size : undefined;
    });
    const running = (performance.now() - started) / 1000;
    const signalled = performance.now();
    signalProcess(pid, signal);
    const result = await child.output();
    const latency = (performance.now() - signalled) / 1000;
    const stderr = decoder.decode(result.stderr);
    strictEqual(result.code, code, stderr);
    match(stderr, new RegExp(`INFO stopping: abandoning the run signal=${signal}`));
    match(
      stderr,
      new RegExp(
        `ERROR backup failed reason=start error="Cannot finish the run: interrupted by ${signal}"`,
      ),
    );
    deepStrictEqual((await listFiles(dest)).filter((f) => !f.startsWith(".backupd")), [
      (await listFiles(dest)).find((f) => /^\d{4}-\d{2}-\d{2}\/$/.test(f)),
    ]);
    // Nothing of a finished run after the stop; the state files say no run is going and
    // that the last one was interrupted, not failed.
    strictEqual(/backup done|removed by retention|notification sent/.test(stderr), false, stderr);
    const state = JSON.parse(await Deno.readTextFile(`${dest}/.backupd/daemon.json`));
    strictEqual(state.running, false);
    const status = JSON.parse(await Deno.readTextFile(`${dest}/.backupd/status.json`));
    strictEqual(status.result, "interrupted");
    // Finishing would have taken (700 MB - written) at the rate seen so far; it stopped far sooner.
    const remaining = ((700 * MB - written) / written) * running;
    console.log(
      `${signal}: exited ${latency.toFixed(2)} s after the signal; finishing would take ~${
        remaining.toFixed(1)
      } s`,
    );
    strictEqual(
      latency < remaining / 4,
      true,
      `exit took ${latency} s against ${remaining} s left`,
    );
  });
}

Deno.test("backupd run exits 0 at once on SIGTERM when idle", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/data`);
  const dest = `${dir.path}/backup`;
  const child = startDaemon(`${dir.path}/data`, dest);
  signalProcess(await daemonPid(dest), "SIGTERM");
  const result = await child.output();
  const stderr = decoder.decode(result.stderr);
  strictEqual(result.code, 0, stderr);
  match(stderr, /INFO stopping signal=SIGTERM\n.*INFO daemon stopped code=0\n$/);
});

Deno.test("backupd run makes a backup on SIGUSR1, and backupd now meanwhile is refused naming the holder", async () => {
  await using dir = await tempDir();
  const dest = `${dir.path}/backup`;
  await randomFiles(`${dir.path}/data`, 3, 100);
  const child = startDaemon(`${dir.path}/data`, dest);
  const pid = await daemonPid(dest);
  signalProcess(pid, "SIGUSR1");
  await waitFor("the run to start", async () => (await partialSize(dest)) ?? undefined);
  const refused = await backupNow(`${dir.path}/data`, dest);
  strictEqual(refused.code, 2, refused.stderr);
  strictEqual(
    refused.stderr,
    `backupd: Cannot take the lock "${dest}/.backupd/lock": held by pid ${pid} (backupd run)\n`,
  );
  await waitFor(
    "the archive",
    async () => (await listFiles(dest)).find((f) => f.endsWith(".tar.gz.sha256")),
    120,
  );
  // The run ends after its archive (retention, status, pings): wait until the daemon is idle.
  await waitFor("the daemon to be idle", async () => {
    const state = JSON.parse(await Deno.readTextFile(`${dest}/.backupd/daemon.json`));
    return state.running === false ? true : undefined;
  });
  signalProcess(pid, "SIGTERM");
  const result = await child.output();
  const stderr = decoder.decode(result.stderr);
  strictEqual(result.code, 0, stderr);
  match(stderr, /INFO run requested \(SIGUSR1\)/);
  match(stderr, /INFO backup done archive=\S+ files=3 bytes_in=300000000 /);
  strictEqual((await run("gzip", ["-t", await onlyArchive(dest)])).code, 0);
});

Deno.test("backupd health answers 1 for a DEST missing or never used, 0 before the first slot and after a success, 1 after a failure or a missed slot", async () => {
  await using dir = await tempDir();
  const data = `${dir.path}/data`;
  const dest = `${dir.path}/backup`;
  await Deno.mkdir(data);
  const health = (schedule = "0 1 * * *") =>
    backupd(["health", "--dest", dest, "--schedule", schedule, "--tz", "UTC"]);

  // A mistyped DEST, then a folder no backupd ever used: never "healthy: no archive yet".
  const missing = await health();
  strictEqual(missing.code, 1, missing.stdout + missing.stderr);
  strictEqual(missing.stdout, `unhealthy: DEST "${dest}" does not exist\n`);
  await Deno.mkdir(dest);
  const unused = await health();
  strictEqual(unused.code, 1, unused.stdout + unused.stderr);
  match(
    unused.stdout,
    /^unhealthy: no backup has ever run into "[^"]+" \(no archive, no state folder\): is DEST right\?\n$/,
  );

  // A daemon started on DEST: healthy until its first slot.
  const daemon = spawnDaemon(data, dest);
  signalProcess(await daemonPid(dest), "SIGTERM");
  strictEqual((await daemon.output()).code, 0);
  const before = await health();
  strictEqual(before.code, 0, before.stdout + before.stderr);
  match(
    before.stdout,
    /^healthy: no archive yet; the first slot is \d{4}-\d\d-\d\dT01:00:00\+00:00\n$/,
  );

  strictEqual((await backupNow(data, dest, ["--tz", "UTC"])).code, 0);
  const after = await health();
  strictEqual(after.code, 0, after.stdout);
  match(after.stdout, /^healthy: the newest archive is from /);

  // A now typed with a wrong --source is refused (exit 2) and is no failure of the backups.
  const typo = await backupNow(`${dir.path}/missing`, dest, ["--tz", "UTC"]);
  strictEqual(typo.code, 2);
  strictEqual((await health()).code, 0);
  // A run that fails (its pre-hook does) is.
  const failed = await backupNow(data, dest, ["--tz", "UTC", "--pre-hook", "false"]);
  strictEqual(failed.code, 2, failed.stderr);
  const unhealthy = await health();
  strictEqual(unhealthy.code, 1, unhealthy.stdout);
  match(unhealthy.stdout, /^unhealthy: the last run failed at \S+: .*--pre-hook/);

  // A good run again, then a schedule whose slot passed two hours ago with no archive since.
  strictEqual((await backupNow(data, dest, ["--tz", "UTC"])).code, 0);
  const slot = new Date(Date.now() - 2 * 3_600_000);
  const missed = await health(`${slot.getUTCMinutes()} ${slot.getUTCHours()} * * *`);
  // The archive is from now, after that slot: healthy. Back-date it to before the slot.
  strictEqual(missed.code, 0, missed.stdout);
  for (const file of await listFiles(dest)) {
    if (!/^\d{4}-\d\d-\d\d\/\d\d-\d\d-\d\d(-\d+)?\.tar\.gz$/.test(file)) continue;
    const old = new Date(slot.getTime() - 3_600_000).toISOString();
    const day = `${dest}/${old.slice(0, 10)}`;
    await Deno.mkdir(day, { recursive: true });
    await Deno.rename(`${dest}/${file}`, `${day}/${old.slice(11, 19).replaceAll(":", "-")}.tar.gz`);
    await Deno.remove(`${dest}/${file}.sha256`);
  }
  const late = await health(`${slot.getUTCMinutes()} ${slot.getUTCHours()} * * *`);
  strictEqual(late.code, 1, late.stdout);
  match(late.stdout, /^unhealthy: no archive since the slot of \S+ \(newest: \S+\)\n$/);
});

Deno.test("backupd now logs JSON lines with level, time and message when asked", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/data`);
  await Deno.writeTextFile(`${dir.path}/data/a`, "a");
  const result = await backupNow(`${dir.path}/data`, `${dir.path}/b`, [], {
    BACKUP_LOG_FORMAT: "json",
  });
  strictEqual(result.code, 0, result.stderr);
  const lines = result.stderr.trim().split("\n").map((l) => JSON.parse(l));
  deepStrictEqual(lines.map((l) => [l.level, l.message]), [
    [
      "warn",
      "copying SOURCE unquiesced: no --postgres, no pre-hook and no container paused or stopped (README: Consistency)",
    ],
    ["info", "backup started"],
    ["info", "backup done"],
  ]);
  for (const line of lines) strictEqual(Number.isNaN(Date.parse(line.time)), false);
  const done = lines[2];
  deepStrictEqual(Object.keys(done).sort(), [
    "archive",
    "bytes_in",
    "bytes_out",
    "files",
    "level",
    "mb_per_s",
    "message",
    "seconds",
    "sha256",
    "time",
    "warnings",
  ]);
  strictEqual(done.files, 1);
  strictEqual(done.bytes_in, 1);
});

Deno.test("backupd now pings URL/start and URL with the summary, URL/fail with the error", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/data`);
  const seen: [string, string, string][] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    seen.push([req.method, new URL(req.url).pathname, await req.text()]);
    return new Response("OK");
  });
  try {
    const url = `http://127.0.0.1:${server.addr.port}/ping/abc`;
    const ok = await backupNow(`${dir.path}/data`, `${dir.path}/b`, ["--ping-url", url]);
    strictEqual(ok.code, 0, ok.stderr);
    const failed = await backupNow(`${dir.path}/nope`, `${dir.path}/b`, [], {
      BACKUP_PING_URL: url,
    });
    strictEqual(failed.code, 2);
    deepStrictEqual(seen.map(([m, p]) => [m, p]), [
      ["POST", "/ping/abc/start"],
      ["POST", "/ping/abc"],
      ["POST", "/ping/abc/start"],
      ["POST", "/ping/abc/fail"],
    ]);
    match(
      seen[1]?.[2] ?? "",
      /^archive=\S+\.tar\.gz files=0 bytes_in=0 bytes_out=\d+ seconds=[\d.]+ sha256=[0-9a-f]{64} warnings=0$/,
    );
    match(seen[3]?.[2] ?? "", /^Cannot use --source "[^"]+\/nope": no such file or folder$/);
  } finally {
    await server.shutdown();
  }
});

Deno.test("backupd now logs a failed ping as a warning and still succeeds", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/data`);
  const port = freePort();
  const result = await backupNow(`${dir.path}/data`, `${dir.path}/b`, [
    "--ping-url",
    `http://127.0.0.1:${port}/x`,
  ]);
  strictEqual(result.code, 0, result.stderr);
  match(result.stderr, /WARN ping failed event=start error=/);
  match(result.stderr, /WARN ping failed event=success error=/);
  match(result.stderr, /INFO backup done /);
});

Deno.test("health, list and prune run by hand use the daemon's schedule, zone and retention unless given, and say so", async () => {
  await using dir = await tempDir();
  const data = `${dir.path}/data`;
  const dest = `${dir.path}/backup`;
  await Deno.mkdir(data);
  const zone = "Asia/Tokyo";
  // Two archives made in the daemon's zone, then the daemon started and stopped on DEST.
  for (let i = 0; i < 2; i++) strictEqual((await backupNow(data, dest, ["--tz", zone])).code, 0);
  const daemon = spawnDaemon(data, dest, ["--tz", zone, "--keep-last", "1"]);
  signalProcess(await daemonPid(dest), "SIGTERM");
  strictEqual((await daemon.output()).code, 0);
  const state = JSON.parse(await Deno.readTextFile(`${dest}/.backupd/daemon.json`));
  deepStrictEqual([state.schedule, state.tz, state.keep], [NEVER, zone, { last: 1 }]);

  // By hand, in another zone (the system's, UTC here) and without a schedule: the archive
  // is minutes old, not nine hours off, and the first slot is the daemon's.
  const health = await backupd(["health", "--dest", dest]);
  strictEqual(health.code, 0, health.stdout + health.stderr);
  match(
    health.stdout,
    new RegExp(
      `^healthy: the newest archive is from \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\+09:00 \\(as the daemon on DEST runs: schedule "${
        NEVER.replaceAll("*", "\\*")
      }", zone ${zone}\\)\\n$`,
    ),
  );
  const newest = Date.parse(/from (\S+)/.exec(health.stdout)?.[1] ?? "");
  strictEqual(Math.abs(Date.now() - newest) < 10 * 60_000, true, health.stdout);
  const json = JSON.parse((await backupd(["list", "--dest", dest, "--json"])).stdout);
  strictEqual(json.tz, zone);
  match(json.archives[0].time, /\+09:00$/);
  match(
    (await backupd(["list", "--dest", dest])).stdout,
    /2 archives in .* \(as the daemon on DEST runs: zone Asia\/Tokyo, retention --keep-last 1\)\n$/,
  );

  // prune takes the daemon's retention; a rule given by hand wins.
  const dry = await backupd(["prune", "--dry-run", "--dest", dest]);
  strictEqual(dry.code, 0, dry.stderr);
  match(dry.stdout, /^as the daemon on DEST runs: zone Asia\/Tokyo, retention --keep-last 1\n/);
  match(dry.stdout, /dry run: would keep 1 and remove 1; nothing was changed\n$/);
  const mine = await backupd(["prune", "--dry-run", "--dest", dest, "--keep-last", "5"]);
  match(mine.stdout, /^as the daemon on DEST runs: zone Asia\/Tokyo\n/);
  match(mine.stdout, /dry run: would keep 2 and remove 0; nothing was changed\n$/);
});

Deno.test("SIGTERM while a start-up check waits on a server that never answers stops the daemon at once", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/data`);
  // A port that takes connections and never says a word, as a hung server does.
  using silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (silent.addr as Deno.NetAddr).port;
  const daemon = spawnDaemon(`${dir.path}/data`, `${dir.path}/backup`, [
    "--postgres",
    `postgres://postgres@127.0.0.1:${port}/postgres`,
  ], { PGPASSWORD: "pw" });
  using connection = await silent.accept();
  const pid = await waitFor("the daemon", () => descendantsOf(daemon.pid)[0]);
  signalProcess(pid, "SIGTERM");
  const result = await daemon.output();
  const stderr = decoder.decode(result.stderr);
  strictEqual(result.code, 0, stderr);
  match(stderr, /INFO daemon stopped code=0\n$/);
  // The check was let go, not waited for: it would have ended in its ERROR line after the
  // driver's 30 s connect timeout.
  strictEqual(stderr.includes("ERROR"), false, stderr);
  void connection;
});
