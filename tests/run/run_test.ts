import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import { runBackup } from "../../lib/run/run.ts";
import { LockHeldError } from "../../lib/base/errors.ts";
import { acquireLock } from "../../lib/store/lock.ts";
import { createLogger } from "../../lib/base/log.ts";
import { resolveSettings } from "../../lib/settings/settings.ts";
import { listFiles, run, tempDir } from "../helpers.ts";

const ORIGINS = { source: "--source", dest: "--dest" };

/** A progress bar that aborts the run with `message` when the first bytes are counted. */
function abortAtFirstBytes(abort: AbortController, message: string) {
  return () => ({
    add: () => abort.abort(new Error(message)),
    clear() {},
    redraw() {},
    stop() {},
  });
}

function setup(source: string, dest: string) {
  const lines: string[] = [];
  const settings = resolveSettings({ source, dest, tz: "America/Santiago" }, {}, {
    timeZone: "UTC",
  });
  const deps = {
    now: () => Date.UTC(2027, 3, 4, 5, 6, 7),
    log: createLogger({ write: (l) => lines.push(l), now: () => new Date(0) }),
    holder: "pid 4242",
  };
  return { lines, settings, deps };
}

Deno.test("runBackup names a second archive of the same second with -1 and never overwrites", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/data`);
  await Deno.writeTextFile(`${dir.path}/data/f`, "one\n");
  const { settings, deps } = setup(`${dir.path}/data`, `${dir.path}/backup`);
  const first = await runBackup(settings, ORIGINS, deps);
  await Deno.writeTextFile(`${dir.path}/data/f`, "two\n");
  const second = await runBackup(settings, ORIGINS, deps);
  // 05:06:07 UTC is 01:06:07 in Santiago on 2027-04-04 (UTC-4 after the April change).
  strictEqual(first.outcome?.archive, "2027-04-04/01-06-07.tar.gz");
  strictEqual(second.outcome?.archive, "2027-04-04/01-06-07-1.tar.gz");
  deepStrictEqual(
    (await listFiles(`${dir.path}/backup`)).filter((f) => !f.startsWith(".backupd")),
    [
      "2027-04-04/",
      "2027-04-04/01-06-07-1.tar.gz",
      "2027-04-04/01-06-07-1.tar.gz.sha256",
      "2027-04-04/01-06-07.tar.gz",
      "2027-04-04/01-06-07.tar.gz.sha256",
    ],
  );
  const content = await run("tar", [
    "-xzOf",
    `${dir.path}/backup/${first.outcome?.archive}`,
    "data/f",
  ]);
  strictEqual(content.stdout, "one\n");
});

Deno.test("runBackup reports a LockHeldError naming the holder when another run holds the lock", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/data`);
  await Deno.mkdir(`${dir.path}/backup/.backupd`, { recursive: true });
  const { settings, deps } = setup(`${dir.path}/data`, `${dir.path}/backup`);
  const held = await acquireLock(`${dir.path}/backup/.backupd`, "pid 99 (backupd run)");
  try {
    const report = await runBackup(settings, ORIGINS, deps);
    strictEqual(report.result, "failed");
    strictEqual(report.error instanceof LockHeldError, true);
    match(
      (report.error as Error).message,
      /^Cannot take the lock ".*\/backup\/\.backupd\/lock": held by pid 99 \(backupd run\)$/,
    );
  } finally {
    held.release();
  }
  strictEqual((await listFiles(`${dir.path}/backup`)).some((f) => f.includes(".tar.gz")), false);
  // Released: the next run goes through.
  strictEqual((await runBackup(settings, ORIGINS, deps)).outcome?.files, 0);
});

Deno.test("runBackup ends its summary line with the archive, counts, rate, hash and warnings", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/data`);
  await Deno.writeTextFile(`${dir.path}/data/f`, "x".repeat(1000));
  const { lines, settings, deps } = setup(`${dir.path}/data`, `${dir.path}/backup`);
  const outcome = (await runBackup(settings, ORIGINS, deps)).outcome;
  const last = lines.at(-1) ?? "";
  match(
    last,
    new RegExp(
      `^1970-01-01T00:00:00.000Z INFO backup done archive=2027-04-04/01-06-07.tar.gz files=1 bytes_in=1000 bytes_out=${outcome?.bytesOut} seconds=0 mb_per_s=[\\d.]+ sha256=${outcome?.sha256} warnings=0\n$`,
    ),
  );
});

Deno.test("runBackup removes its partial file and reports failure when the run is aborted", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/data`);
  await Deno.writeFile(`${dir.path}/data/big`, new Uint8Array(20_000_000));
  const { settings, deps } = setup(`${dir.path}/data`, `${dir.path}/backup`);
  const abort = new AbortController();
  const started = runBackup(settings, ORIGINS, {
    ...deps,
    signal: abort.signal,
    progress: abortAtFirstBytes(abort, "stop"),
  });
  const report = await started;
  strictEqual(report.result, "failed");
  strictEqual((report.error as Error).message, "stop");
  deepStrictEqual(
    (await listFiles(`${dir.path}/backup`)).filter((f) => !f.startsWith(".backupd")),
    ["2027-04-04/"],
  );
});

Deno.test("runBackup stopped after its archive is made keeps it, skips retention and records interrupted", async () => {
  await using dir = await tempDir();
  const dest = `${dir.path}/backup`;
  await Deno.mkdir(`${dir.path}/data`);
  // One small file: packed in one batch whose bytes are told after the walk is done, so the
  // stop comes once every entry is under way and the archive still completes.
  await Deno.writeTextFile(`${dir.path}/data/small`, "x".repeat(1000));
  const { settings, deps, lines } = setup(`${dir.path}/data`, dest);
  for (const name of ["01-00-00", "02-00-00"]) {
    await Deno.mkdir(`${dest}/2027-04-03`, { recursive: true });
    await Deno.writeTextFile(`${dest}/2027-04-03/${name}.tar.gz`, "an older archive");
  }
  const abort = new AbortController();
  const report = await runBackup({ ...settings, keep: { last: 1 } }, ORIGINS, {
    ...deps,
    signal: abort.signal,
    progress: abortAtFirstBytes(abort, "Cannot finish the run: interrupted by SIGTERM"),
  });
  strictEqual(report.result, "failed");
  strictEqual((report.error as Error).message, "Cannot finish the run: interrupted by SIGTERM");
  const archives = (await listFiles(dest)).filter((f) => f.endsWith(".tar.gz"));
  deepStrictEqual(archives, [
    "2027-04-03/01-00-00.tar.gz",
    "2027-04-03/02-00-00.tar.gz",
    "2027-04-04/01-06-07.tar.gz",
  ]);
  const log = lines.join("");
  match(log, /INFO the archive is complete and kept; upload and retention are skipped/);
  strictEqual(/backup done|removed by retention/.test(log), false, log);
  const status = JSON.parse(await Deno.readTextFile(`${dest}/.backupd/status.json`));
  strictEqual(status.result, "interrupted");
});
