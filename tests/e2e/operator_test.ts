// What an operator meets first: a mistyped DEST, `latest`, a mistyped command or option,
// and backupd typed at a terminal without a command.

import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import {
  backupd,
  backupNow,
  descendantsOf,
  ROOT,
  run,
  spawnBackupd,
  tempDir,
  waitFor,
} from "../helpers.ts";

Deno.test("list, verify and prune exit 2 with one line for a DEST that does not exist", async () => {
  await using dir = await tempDir();
  const typo = `${dir.path}/bakcup`;
  for (
    const [args, line] of [
      [["list"], `Cannot list: DEST "${typo}" does not exist`],
      [["verify"], `Cannot verify: DEST "${typo}" does not exist`],
      [["verify", "latest"], `Cannot verify: DEST "${typo}" does not exist`],
      [["prune", "--keep-last", "1"], `Cannot prune "${typo}": no such folder`],
    ] as const
  ) {
    const result = await backupd([...args, "--dest", typo]);
    strictEqual(result.code, 2, `${args.join(" ")}: ${result.stdout}${result.stderr}`);
    strictEqual(result.stdout, "");
    strictEqual(result.stderr, `backupd: ${line}\n`, args.join(" "));
  }
});

Deno.test("verify latest and restore latest take the newest archive under DEST", async () => {
  await using dir = await tempDir();
  const data = `${dir.path}/data`;
  const dest = `${dir.path}/backup`;
  await Deno.mkdir(data);
  await Deno.writeTextFile(`${data}/f`, "first");
  strictEqual((await backupNow(data, dest)).code, 0);
  // A second archive with other content (in the same second, it gets the next sequence).
  await Deno.writeTextFile(`${data}/f`, "second");
  strictEqual((await backupNow(data, dest)).code, 0);

  const verified = await backupd(["verify", "latest", "--dest", dest]);
  strictEqual(verified.code, 0, verified.stderr);
  const listed = await backupd(["list", "--dest", dest]);
  const newest = listed.stdout.split("\n")[1]?.split(/\s+/)[0] ?? "";
  match(verified.stdout, new RegExp(`^OK ${newest.replaceAll(".", "\\.")}: `));

  const restored = await backupd(["restore", "latest", "--to", `${dir.path}/r`, "--dest", dest]);
  strictEqual(restored.code, 0, restored.stderr);
  strictEqual(await Deno.readTextFile(`${dir.path}/r/f`), "second");
});

Deno.test("a mistyped command or option gets one line naming the nearest, exit 2", async () => {
  const command = await backupd(["nwo"]);
  strictEqual(command.code, 2);
  strictEqual(
    command.stderr,
    "backupd: Cannot parse the command line: unknown command 'nwo' (did you mean now?); the commands are now, run, health, list, verify, restore, prune, config, wal, drill, dump\n",
  );
  const option = await backupd(["now", "--souce", "/srv"]);
  strictEqual(option.code, 2);
  strictEqual(
    option.stderr,
    "backupd: Cannot parse the command line: unknown option '--souce' (did you mean --source?)\n",
  );
});

Deno.test("backupd without a command prints usage at a terminal, and is the daemon elsewhere", async () => {
  // script(1) gives the command a terminal, as a person typing it has.
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`));
  const task = (config.tasks.backupd as string).replace("main.ts", `${ROOT}/main.ts`);
  const atTerminal = await run("script", [
    "-qec",
    task.replace(/^deno /, `${Deno.execPath()} `),
    "/dev/null",
  ]);
  strictEqual(atTerminal.code, 0, atTerminal.stdout + atTerminal.stderr);
  match(atTerminal.stdout, /Usage: backupd \[options\] \[command\]/);
  match(atTerminal.stdout, /The daemon is "backupd run"/);
  // Without a terminal, no command is `run`: the daemon, which says at once what keeps it
  // from backing up (no SOURCE here), keeps checking, and stops cleanly on SIGTERM.
  const daemon = spawnBackupd([]);
  let stderr = "";
  const reading = daemon.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (text) => void (stderr += text) }),
  );
  await waitFor("the start-up check's line", () => stderr.includes("ERROR ") || undefined);
  // The daemon is `deno task`'s child: it is the one signalled, by its id.
  for (const pid of descendantsOf(daemon.pid)) Deno.kill(pid, "SIGTERM");
  const status = await daemon.status;
  await reading;
  strictEqual(status.code, 0, stderr);
  match(
    stderr,
    /ERROR start-up check failed; checking again every minute error="Cannot use --source \\"\/data\\": no such file or folder"/,
  );
  match(stderr, /INFO daemon stopped code=0\n$/);
});

Deno.test("restore --include restores only the files and folders named; one that matches nothing fails and leaves no DIR", async () => {
  await using dir = await tempDir();
  const data = `${dir.path}/data`;
  const dest = `${dir.path}/backup`;
  await Deno.mkdir(`${data}/base/1`, { recursive: true });
  await Deno.mkdir(`${data}/global`);
  await Deno.writeTextFile(`${data}/base/1/100`, "relation");
  await Deno.writeTextFile(`${data}/base/1/101`, "index");
  await Deno.writeTextFile(`${data}/global/pg_control`, "control");
  await Deno.writeTextFile(`${data}/postgresql.conf`, "conf");
  strictEqual((await backupNow(data, dest)).code, 0);

  const to = `${dir.path}/r`;
  const some = await backupd([
    "restore",
    "latest",
    "--dest",
    dest,
    "--to",
    to,
    "--include",
    "./base/1/",
    "--include",
    "postgresql.conf",
  ]);
  strictEqual(some.code, 0, some.stderr);
  const found: string[] = [];
  const walk = async (at: string, rel: string) => {
    for await (const entry of Deno.readDir(at)) {
      const path = rel === "" ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory) await walk(`${at}/${entry.name}`, path);
      else found.push(path);
    }
  };
  await walk(to, "");
  strictEqual(found.sort().join(" "), "base/1/100 base/1/101 postgresql.conf");
  strictEqual(await Deno.readTextFile(`${to}/base/1/100`), "relation");

  const none = await backupd([
    "restore",
    "latest",
    "--dest",
    dest,
    "--to",
    `${dir.path}/r2`,
    "--include",
    "base/2",
  ]);
  strictEqual(none.code, 2, none.stderr);
  match(none.stderr, /^backupd: Cannot restore: nothing in the archive is at "base\/2" /);
  strictEqual(await Deno.stat(`${dir.path}/r2`).then(() => true, () => false), false);
});

Deno.test("health --json prints one object; under --log-format json a failure is one JSON line", async () => {
  await using dir = await tempDir();
  const typo = `${dir.path}/bakcup`;
  const health = await backupd(["health", "--json", "--dest", typo]);
  strictEqual(health.code, 1, health.stderr);
  const verdict = JSON.parse(health.stdout);
  deepStrictEqual(verdict, {
    healthy: false,
    reason: `DEST "${typo}" does not exist`,
    // What the verdict was judged by: the schedule and the zone times are shown in.
    schedule: "0 1 * * *",
    tz: verdict.tz,
  });
  strictEqual(typeof verdict.tz, "string");

  for (const env of [{}, { BACKUP_LOG_FORMAT: "json" }]) {
    const args = "BACKUP_LOG_FORMAT" in env
      ? ["list", "--dest", typo]
      : ["list", "--dest", typo, "--log-format", "json"];
    const failed = await backupd(args, env);
    strictEqual(failed.code, 2);
    const lines = failed.stderr.trimEnd().split("\n");
    strictEqual(lines.length, 1, failed.stderr);
    const line = JSON.parse(lines[0] ?? "");
    strictEqual(line.level, "error");
    strictEqual(line.message, `backupd: Cannot list: DEST "${typo}" does not exist`);
    match(line.time, /^\d{4}-\d\d-\d\dT/);
  }
});

Deno.test("verify --json and prune --dry-run --json print one object each", async () => {
  await using dir = await tempDir();
  const data = `${dir.path}/data`;
  const dest = `${dir.path}/backup`;
  await Deno.mkdir(data);
  await Deno.writeTextFile(`${data}/f`, "x".repeat(1000));
  strictEqual((await backupNow(data, dest)).code, 0);
  const archive = (JSON.parse((await backupd(["list", "--json", "--dest", dest])).stdout)
    .archives[0].path) as string;

  const verified = await backupd(["verify", "--json", "--dest", dest]);
  strictEqual(verified.code, 0, verified.stderr);
  deepStrictEqual(JSON.parse(verified.stdout), {
    ok: true,
    archives: [{
      archive,
      ok: true,
      hashChecked: true,
      contentChecked: true,
      entries: 2,
      bytes: 1000,
    }],
  });

  const sidecar = `${dest}/${archive}.sha256`;
  await Deno.writeTextFile(sidecar, `${"0".repeat(64)}  ${archive.split("/")[1]}\n`);
  const failed = await backupd(["verify", "latest", "--json", "--dest", dest]);
  strictEqual(failed.code, 2);
  const verdict = JSON.parse(failed.stdout);
  strictEqual(verdict.ok, false);
  strictEqual(verdict.archives[0].reason, "the sha256 does not match the sidecar");

  const plan = await backupd(["prune", "--dry-run", "--json", "--keep-last", "1", "--dest", dest]);
  strictEqual(plan.code, 0, plan.stderr);
  deepStrictEqual(JSON.parse(plan.stdout), {
    dryRun: true,
    rules: true,
    stores: [{
      location: dest,
      keep: [{ path: archive, reasons: ["newest", "last 1"] }],
      remove: [],
      removeWal: [],
    }],
  });
});

Deno.test("config shows every effective setting, where it comes from, and never a secret", async () => {
  await using dir = await tempDir();
  const secretFile = `${dir.path}/pgpass`;
  await Deno.writeTextFile(secretFile, "s3cret-from-file");
  const env = {
    BACKUP_DEST: "/var/backups/app",
    PGPASSWORD_FILE: secretFile,
    AWS_ACCESS_KEY_ID: "AKIAEXAMPLE",
    AWS_SECRET_ACCESS_KEY: "very-secret-key",
  };
  const args = [
    "config",
    "--source",
    "/srv/data",
    "--postgres",
    "postgres://app:inline-pw@db/shop",
    "--s3-url",
    "s3://backups/db",
    "--notify",
    "smtp://ops:mail-pw@mail:25/?to=ops@example.org",
    "--metrics-file",
    "/var/lib/node_exporter/backupd.prom",
  ];
  const text = await backupd(args, env);
  strictEqual(text.code, 0, text.stderr);
  for (
    const secret of ["s3cret-from-file", "inline-pw", "AKIAEXAMPLE", "very-secret-key", "mail-pw"]
  ) {
    strictEqual(text.stdout.includes(secret), false, secret);
  }
  const rows = new Map(
    text.stdout.trimEnd().split("\n").slice(1).map((line) => {
      const [setting, value, from] = line.split(/ {2,}/);
      return [setting, { value, from }];
    }),
  );
  deepStrictEqual(rows.get("source"), { value: "/srv/data", from: "flag --source" });
  deepStrictEqual(rows.get("dest"), { value: "/var/backups/app", from: "environment BACKUP_DEST" });
  deepStrictEqual(rows.get("compression"), { value: "gzip", from: "default" });
  deepStrictEqual(rows.get("postgres"), {
    value: "postgres://app:***@db/shop",
    from: "flag --postgres",
  });
  deepStrictEqual(rows.get("postgres password"), {
    value: "***",
    from: `file ${secretFile} (PGPASSWORD_FILE)`,
  });
  deepStrictEqual(rows.get("s3 secret key"), {
    value: "***",
    from: "environment AWS_SECRET_ACCESS_KEY",
  });
  // Notifications and metrics are settings too; what does not apply is not shown.
  deepStrictEqual(rows.get("notify"), {
    value: "smtp://ops:***@mail:25/?to=ops@example.org",
    from: "flag --notify",
  });
  deepStrictEqual(rows.get("notify-on"), { value: "failure", from: "default" });
  deepStrictEqual(rows.get("metrics-file"), {
    value: "/var/lib/node_exporter/backupd.prom",
    from: "flag --metrics-file",
  });
  deepStrictEqual(rows.get("metrics-listen"), { value: "-", from: "default" });
  for (const unused of ["quiesce", "docker", "quiesce-group", "hook-timeout"]) {
    strictEqual(rows.has(unused), false, `${unused} does not apply under --postgres without hooks`);
  }
  const plain = await backupd(["config"], {});
  strictEqual(plain.stdout.includes("s3-region"), false, plain.stdout);
  strictEqual(plain.stdout.includes("postgres password"), false, plain.stdout);
  match(plain.stdout, /^quiesce +on +default$/m);

  const json = await backupd([...args, "--json"], env);
  strictEqual(json.code, 0, json.stderr);
  const settings = JSON.parse(json.stdout).settings as {
    setting: string;
    value: string;
    from: string;
  }[];
  deepStrictEqual(settings.find((s) => s.setting === "dest"), {
    setting: "dest",
    value: "/var/backups/app",
    from: "environment BACKUP_DEST",
  });
  strictEqual(json.stdout.includes("very-secret-key"), false);

  const bad = await backupd(["config", "--tz", "Mars/Olympus"]);
  strictEqual(bad.code, 2);
  strictEqual(bad.stderr, 'backupd: Cannot use --tz "Mars/Olympus": unknown time zone\n');
});
