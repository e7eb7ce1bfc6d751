// Containers labelled backupd.pause / backupd.stop, quiesced through the real Docker engine
// for the archive phase and always resumed: after success, SIGTERM, and a crash.

import { match, strictEqual } from "node:assert/strict";
import {
  backupNow,
  daemonPid,
  listFiles,
  randomFile,
  run,
  signalProcess,
  spawnBackupd,
  spawnDaemon,
  tempDir,
  waitFor,
} from "../helpers.ts";
import { BASE, DOCKER, ensureBaseImage, inspect, must, requireDocker } from "./docker_helpers.ts";

const decoder = new TextDecoder();

/** The compose project the tests' containers are in; backupd runs on the host, so it is named. */
const PROJECT = "backupd-e2e-quiesce";
const GROUP = { BACKUP_QUIESCE_GROUP: PROJECT };

async function sleeper(label: string, project = PROJECT): Promise<string> {
  const name = `backupd-sleeper-${label.replace(/\W/g, "-")}-${project}-${Date.now()}`;
  await must(
    DOCKER,
    [
      "run",
      "-d",
      "--init",
      "--name",
      name,
      "--label",
      label,
      "--label",
      `com.docker.compose.project=${project}`,
      BASE,
      "sleep",
      "infinity",
    ],
    "starting a container",
  );
  return name;
}

async function withContainer(
  label: string,
  body: (name: string) => Promise<void>,
  project = PROJECT,
): Promise<void> {
  await requireDocker();
  await ensureBaseImage();
  const name = await sleeper(label, project);
  try {
    await body(name);
  } finally {
    await run(DOCKER, ["rm", "-f", name]);
  }
}

for (
  const [label, state, during] of [
    ["backupd.pause=true", "{{.State.Paused}}", "true"],
    ["backupd.stop=true", "{{.State.Running}}", "false"],
  ] as const
) {
  Deno.test(`backupd now quiesces a container labelled ${label} for the archive and resumes it`, async () => {
    await withContainer(label, async (name) => {
      await using dir = await tempDir();
      await randomFile(`${dir.path}/data/ballast`, 150);
      const child = spawnBackupd([
        "now",
        "--source",
        `${dir.path}/data`,
        "--dest",
        `${dir.path}/backup`,
      ], GROUP);
      const output = child.output();
      await waitFor(
        `${name} quiesced`,
        async () => (await inspect(name, state)) === during ? true : undefined,
      );
      const result = await output;
      const stderr = decoder.decode(result.stderr);
      strictEqual(result.code, 0, stderr);
      strictEqual(await inspect(name, "{{.State.Running}} {{.State.Paused}}"), "true false");
      const [quiesced, resumed] = label.includes("pause")
        ? ["paused", "unpaused"]
        : ["stopped", "started"];
      match(
        stderr,
        new RegExp(
          `INFO ${quiesced} container container=${name}\n(.*\n)*.*INFO ${resumed} container container=${name}\n`,
        ),
      );
      // Quiesced only for the archive: the order of the log is pause, archive, resume.
      match(
        stderr,
        new RegExp(
          `${quiesced} container(.*\n)*.*backup started(.*\n)*.*${resumed} container(.*\n)*.*backup done`,
        ),
      );
      strictEqual(
        (await listFiles(`${dir.path}/backup`)).includes(".backupd/quiesced.json"),
        false,
      );
    });
  });
}

Deno.test("backupd run resumes a paused container when SIGTERM abandons the run", async () => {
  await withContainer("backupd.pause=true", async (name) => {
    await using dir = await tempDir();
    await randomFile(`${dir.path}/data/ballast`, 300);
    const dest = `${dir.path}/backup`;
    const child = spawnDaemon(`${dir.path}/data`, dest, ["--run-on-start"], GROUP);
    await waitFor(
      "the pause",
      async () => (await inspect(name, "{{.State.Paused}}")) === "true" ? true : undefined,
    );
    const pid = await daemonPid(dest);
    signalProcess(pid, "SIGTERM");
    const result = await child.output();
    strictEqual(result.code, 143, decoder.decode(result.stderr));
    strictEqual(await inspect(name, "{{.State.Running}} {{.State.Paused}}"), "true false");
    strictEqual(
      (await listFiles(dest)).some((f) => f.endsWith(".partial") || f.endsWith("quiesced.json")),
      false,
    );
  });
});

Deno.test("backupd resumes at its next start a container that a killed run left paused", async () => {
  await withContainer("backupd.pause=true", async (name) => {
    await using dir = await tempDir();
    await randomFile(`${dir.path}/data/ballast`, 300);
    const dest = `${dir.path}/backup`;
    const child = spawnBackupd(["now", "--source", `${dir.path}/data`, "--dest", dest], GROUP);
    await waitFor(
      "the pause",
      async () => (await inspect(name, "{{.State.Paused}}")) === "true" ? true : undefined,
    );
    const pid = Number(/^pid (\d+)/.exec(await Deno.readTextFile(`${dest}/.backupd/lock`))?.[1]);
    signalProcess(pid, "SIGKILL");
    await child.output();
    strictEqual(await inspect(name, "{{.State.Paused}}"), "true");
    strictEqual((await listFiles(dest)).includes(".backupd/quiesced.json"), true);

    await Deno.truncate(`${dir.path}/data/ballast`, 1000);
    const next = await backupNow(`${dir.path}/data`, dest, [], GROUP);
    strictEqual(next.code, 0, next.stderr);
    match(
      next.stderr,
      new RegExp(
        `WARN resuming containers that an interrupted run left quiesced paused=${name} stopped=""`,
      ),
    );
    strictEqual(await inspect(name, "{{.State.Running}} {{.State.Paused}}"), "true false");
    strictEqual((await listFiles(dest)).includes(".backupd/quiesced.json"), false);
  });
});

Deno.test("backupd now fails with one line when DOCKER_HOST names a socket that is not there", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/data`);
  const result = await backupNow(`${dir.path}/data`, `${dir.path}/b`, [], {
    DOCKER_HOST: `unix://${dir.path}/docker.sock`,
  });
  strictEqual(result.code, 2, result.stderr);
  match(
    result.stderr,
    new RegExp(
      `ERROR backup failed error="Cannot reach the Docker engine at \\\\"unix://${dir.path}/docker.sock\\\\": no such socket"\n$`,
    ),
  );
  strictEqual((await listFiles(`${dir.path}/b`)).some((f) => f.endsWith(".tar.gz")), false);
});

Deno.test("backupd now resumes a paused container when the run fails during the archive", async () => {
  await withContainer("backupd.pause=true", async (name) => {
    await using dir = await tempDir();
    await randomFile(`${dir.path}/data/ballast`, 20);
    const dest = `${dir.path}/small`;
    await Deno.mkdir(dest);
    strictEqual((await run("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", dest])).code, 0);
    try {
      // A tiny newest archive lets the free-space check pass; the disk fills while paused.
      await Deno.mkdir(`${dest}/2020-01-01`);
      await Deno.writeFile(`${dest}/2020-01-01/01-00-00.tar.gz`, new Uint8Array(100));
      const result = await backupNow(`${dir.path}/data`, dest, [], GROUP);
      strictEqual(result.code, 2, result.stderr);
      match(
        result.stderr,
        new RegExp(
          `INFO paused container container=${name}\n(.*\n)*.*INFO unpaused container container=${name}\n`,
        ),
      );
      match(result.stderr, /ERROR backup failed error=".*no space left on device/);
      strictEqual(await inspect(name, "{{.State.Running}} {{.State.Paused}}"), "true false");
    } finally {
      await run("umount", [dest]);
    }
  });
});

Deno.test("only the named compose project's labelled containers are quiesced; outside compose without a group none are, with a warning", async () => {
  await withContainer("backupd.pause=true", async (other) => {
    await using dir = await tempDir();
    await Deno.mkdir(`${dir.path}/data`);
    await Deno.writeTextFile(`${dir.path}/data/f`, "x");
    // Another stack's database, labelled too: never paused by this stack's backups.
    const mine = await backupNow(`${dir.path}/data`, `${dir.path}/b1`, [], GROUP);
    strictEqual(mine.code, 0, mine.stderr);
    strictEqual(mine.stderr.includes(other), false, mine.stderr);
    match(mine.stderr, new RegExp(`INFO no container to quiesce project=${PROJECT} `));
    match(mine.stderr, /WARN copying SOURCE unquiesced: no --postgres, no pre-hook/);

    const outside = await backupNow(`${dir.path}/data`, `${dir.path}/b2`);
    strictEqual(outside.code, 0, outside.stderr);
    // The warning names the labelled containers it left alone.
    match(
      outside.stderr,
      new RegExp(
        `WARN not quiescing containers: this process is not in a compose project; set BACKUP_QUIESCE_GROUP .* labelled=(\\S+,)?${other}`,
      ),
    );
    strictEqual(await inspect(other, "{{.State.Paused}}"), "false");

    const off = await backupNow(`${dir.path}/data`, `${dir.path}/b3`, [], {
      BACKUP_QUIESCE: "off",
    });
    strictEqual(off.code, 0, off.stderr);
    strictEqual(off.stderr.includes("compose project"), false, off.stderr);

    const none = await backupNow(`${dir.path}/data`, `${dir.path}/b4`, [], { DOCKER_HOST: "none" });
    strictEqual(none.code, 2);
    match(none.stderr, /^backupd: Cannot use DOCKER_HOST "none": .*set BACKUP_QUIESCE=off/);
  }, "backupd-e2e-other-stack");
});
