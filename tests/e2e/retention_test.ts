// list, prune and retention after runs, on DEST folders holding backupd's archives among
// files it did not write; and the free-space check and ENOSPC on a small file system.

import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import {
  backupd,
  backupNow,
  EVERY_RULE_OFF,
  listFiles,
  randomFile,
  run,
  tempDir,
} from "../helpers.ts";

/** Writes a fake archive (any bytes) and its sidecar under DEST. */
async function fakeArchive(dest: string, path: string, bytes = 1000): Promise<void> {
  const dir = `${dest}/${path.slice(0, path.indexOf("/"))}`;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeFile(`${dest}/${path}`, new Uint8Array(bytes));
  await Deno.writeTextFile(
    `${dest}/${path}.sha256`,
    `${"0".repeat(64)}  ${path.slice(path.indexOf("/") + 1)}\n`,
  );
}

async function fabricate(dest: string): Promise<void> {
  for (const day of ["2025-12-30", "2025-12-31", "2026-01-01", "2026-01-02"]) {
    await fakeArchive(dest, `${day}/01-00-00.tar.gz`);
  }
  await fakeArchive(dest, "2026-01-02/13-00-00.tar.gz", 2048);
  await Deno.writeTextFile(`${dest}/2025-12-31/notes.txt`, "the operator's own file\n");
  await Deno.writeTextFile(`${dest}/2026-01-02/.13-00-01.tar.gz.partial`, "left by a crash");
  await Deno.mkdir(`${dest}/photos`);
  await Deno.writeTextFile(`${dest}/photos/2025-12-30.tar.gz`, "not ours");
  await Deno.writeTextFile(`${dest}/2026-01-01/backup.tar.gz`, "not ours either");
}

Deno.test("backupd list shows a header, archives newest first with size, age, kind and place, and a count; nothing else", async () => {
  await using dir = await tempDir();
  await fabricate(dir.path);
  const result = await backupd(["list", "--dest", dir.path, "--tz", "UTC"]);
  strictEqual(result.code, 0, result.stderr);
  const lines = result.stdout.trimEnd().split("\n");
  deepStrictEqual(lines[0]?.split(/ {2,}/), ["ARCHIVE", "SIZE", "AGE", "KIND", "WHERE"]);
  strictEqual(lines.at(-1), `5 archives in ${dir.path}`);
  const rows = lines.slice(1, -1).map((l) => l.split(/ {2,}/));
  for (const row of rows) deepStrictEqual(row.slice(3), ["gzip", "local"]);
  deepStrictEqual(rows.map((r) => r.slice(0, 2)), [
    ["2026-01-02/13-00-00.tar.gz", "2.0 KiB"],
    ["2026-01-02/01-00-00.tar.gz", "1000 B"],
    ["2026-01-01/01-00-00.tar.gz", "1000 B"],
    ["2025-12-31/01-00-00.tar.gz", "1000 B"],
    ["2025-12-30/01-00-00.tar.gz", "1000 B"],
  ]);
  for (const row of rows) match(row[2] ?? "", /^\d+ days ago$/);

  const json = await backupd(["list", "--json", "--dest", dir.path, "--tz", "UTC"]);
  strictEqual(json.code, 0, json.stderr);
  const parsed = JSON.parse(json.stdout);
  strictEqual(parsed.location, dir.path);
  strictEqual(parsed.count, 5);
  deepStrictEqual(parsed.archives[0], {
    path: "2026-01-02/13-00-00.tar.gz",
    size: 2048,
    time: "2026-01-02T13:00:00+00:00",
    kind: "gzip",
    where: ["local"],
  });
});

Deno.test("backupd prune --dry-run prints the plan and changes nothing; prune carries it out", async () => {
  await using dir = await tempDir();
  await fabricate(dir.path);
  const before = await listFiles(dir.path);
  const dry = await backupd(["prune", "--dry-run", "--dest", dir.path, "--keep-daily", "2"]);
  strictEqual(dry.code, 0, dry.stderr);
  strictEqual(
    dry.stdout,
    [
      "keep   2026-01-02/13-00-00.tar.gz  (newest, daily 2026-01-02)",
      "keep   2026-01-01/01-00-00.tar.gz  (daily 2026-01-01)",
      "remove 2026-01-02/01-00-00.tar.gz  (matches no keep rule)",
      "remove 2025-12-31/01-00-00.tar.gz  (matches no keep rule)",
      "remove 2025-12-30/01-00-00.tar.gz  (matches no keep rule)",
      "dry run: would keep 2 and remove 3; nothing was changed",
      "",
    ].join("\n"),
  );
  deepStrictEqual(await listFiles(dir.path), before);

  const real = await backupd(["prune", "--dest", dir.path], { BACKUP_KEEP_DAILY: "2" });
  strictEqual(real.code, 0, real.stderr);
  match(real.stdout, /kept 2, removed 3\n$/);
  deepStrictEqual(await listFiles(dir.path), [
    ".backupd/",
    ".backupd/lock",
    "2025-12-31/", // kept: it holds the operator's notes
    "2025-12-31/notes.txt",
    "2026-01-01/",
    "2026-01-01/01-00-00.tar.gz",
    "2026-01-01/01-00-00.tar.gz.sha256",
    "2026-01-01/backup.tar.gz",
    "2026-01-02/",
    "2026-01-02/.13-00-01.tar.gz.partial",
    "2026-01-02/13-00-00.tar.gz",
    "2026-01-02/13-00-00.tar.gz.sha256",
    "photos/",
    "photos/2025-12-30.tar.gz",
  ]);
});

Deno.test("retention rules of 0 are turned off: prune and a run with every rule at 0 remove nothing", async () => {
  await using dir = await tempDir();
  await fabricate(dir.path);
  const before = await listFiles(dir.path);
  const dry = await backupd(["prune", "--dry-run", "--dest", dir.path, ...EVERY_RULE_OFF]);
  strictEqual(dry.code, 0, dry.stderr);
  strictEqual(
    dry.stdout,
    "no retention rule is set (--keep-last, --keep-daily, --keep-weekly, --keep-monthly): nothing to do\n",
  );
  const real = await backupd(["prune", "--dest", dir.path], {
    BACKUP_KEEP_LAST: "0",
    BACKUP_KEEP_DAILY: "0",
    BACKUP_KEEP_WEEKLY: "0",
    BACKUP_KEEP_MONTHLY: "0",
  });
  strictEqual(real.code, 0, real.stderr);
  deepStrictEqual(await listFiles(dir.path), before);

  // A run with every rule at 0 keeps every archive too; 0 beside another rule is ignored.
  const source = `${dir.path}/src`;
  await Deno.mkdir(source);
  strictEqual((await backupNow(source, dir.path, EVERY_RULE_OFF)).code, 0);
  const archives = (await listFiles(dir.path)).filter((f) =>
    /^\d{4}-\d\d-\d\d\/\d\d-\d\d-\d\d(-\d+)?\.tar\.gz$/.test(f)
  );
  strictEqual(archives.length, 6, archives.join(" "));
  const daily = await backupd([
    "prune",
    "--dry-run",
    "--dest",
    dir.path,
    ...EVERY_RULE_OFF,
    "--keep-daily",
    "1",
  ]);
  match(daily.stdout, /dry run: would keep 1 and remove 5; nothing was changed\n$/);
});

Deno.test("backupd now prunes after a successful run when a rule is set, never after a failed one", async () => {
  await using dir = await tempDir();
  const dest = `${dir.path}/backup`;
  await fabricate(dest);
  await Deno.mkdir(`${dir.path}/data`);
  const failed = await backupNow(`${dir.path}/missing`, dest, ["--keep-last", "1"]);
  strictEqual(failed.code, 2);
  strictEqual((await listFiles(dest)).filter((f) => f.endsWith("01-00-00.tar.gz")).length, 4);

  const ok = await backupNow(`${dir.path}/data`, dest, [], {
    BACKUP_KEEP_LAST: "1",
  });
  strictEqual(ok.code, 0, ok.stderr);
  strictEqual((ok.stderr.match(/INFO removed by retention archive=/g) ?? []).length, 5);
  const archives = (await listFiles(dest)).filter((f) =>
    /^\d{4}-\d\d-\d\d\/\d\d-\d\d-\d\d\.tar\.gz$/.test(f)
  );
  strictEqual(archives.length, 1);
  match(ok.stderr, new RegExp(`INFO backup done archive=${archives[0]} `));
  // The run removed the crash's partial, and never touched the foreign files.
  for (
    const foreign of [
      "2025-12-31/notes.txt",
      "photos/2025-12-30.tar.gz",
      "2026-01-01/backup.tar.gz",
    ]
  ) {
    strictEqual((await listFiles(dest)).includes(foreign), true, foreign);
  }
  strictEqual((await listFiles(dest)).some((f) => f.endsWith(".partial")), false);
});

async function withTmpfs(path: string, size: string, body: () => Promise<void>): Promise<void> {
  await Deno.mkdir(path, { recursive: true });
  const mounted = await run("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", path]);
  strictEqual(
    mounted.code,
    0,
    `these tests make a small file system and need root: ${mounted.stderr}`,
  );
  try {
    await body();
  } finally {
    await run("umount", [path]);
  }
}

Deno.test("backupd now fails at once when DEST has less than 1.5 x the newest archive free", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/data`);
  const dest = `${dir.path}/small`;
  await withTmpfs(dest, "4m", async () => {
    await fakeArchive(dest, "2026-01-01/01-00-00.tar.gz", 3_000_000);
    const result = await backupNow(`${dir.path}/data`, dest);
    strictEqual(result.code, 2, result.stderr);
    match(
      result.stderr,
      /ERROR backup failed error="Cannot start the backup: \\".*small\\" has [\d.]+ (KiB|MiB) free, and 1.5 x the newest archive is 4.3 MiB"\n$/,
    );
    strictEqual((await listFiles(dest)).some((f) => f.includes("partial")), false);
  });
});

Deno.test("a first run fails before writing when DEST has less than 1.5 x SOURCE free, counted by its walk", async () => {
  await using dir = await tempDir();
  await randomFile(`${dir.path}/data/ballast`, 5);
  const dest = `${dir.path}/small`;
  await withTmpfs(dest, "4m", async () => {
    const result = await backupNow(`${dir.path}/data`, dest);
    strictEqual(result.code, 2, result.stderr);
    match(
      result.stderr,
      /ERROR backup failed error="Cannot start the backup: \\".*small\\" has [\d.]+ (KiB|MiB) free, and 1.5 x the source \(no archive yet\) is 7.2 MiB"\n$/,
    );
    strictEqual(
      (await listFiles(dest)).some((f) => f.includes("partial") || f.endsWith(".gz")),
      false,
    );
  });
});

Deno.test("backupd now removes the partial and fails clearly on ENOSPC, and succeeds once there is room", async () => {
  await using dir = await tempDir();
  const source = `${dir.path}/data`;
  await Deno.mkdir(source);
  const dd = await run("dd", [
    "if=/dev/urandom",
    `of=${source}/big`,
    "bs=1000000",
    "count=8",
    "status=none",
  ]);
  strictEqual(dd.code, 0, dd.stderr);
  const dest = `${dir.path}/small`;
  await withTmpfs(dest, "3m", async () => {
    // A small newest archive lets the free-space check pass; the disk fills during the run.
    await fakeArchive(dest, "2026-01-01/01-00-00.tar.gz", 10_000);
    const full = await backupNow(source, dest);
    strictEqual(full.code, 2, full.stderr);
    match(
      full.stderr,
      /ERROR backup failed error="Cannot write \\"\S+\.tar\.gz\\": no space left on device \(the partial file was removed\)"\n$/,
    );
    strictEqual((await listFiles(dest)).some((f) => f.includes("partial")), false);

    strictEqual((await run("mount", ["-o", "remount,size=40m", dest])).code, 0);
    const roomy = await backupNow(source, dest);
    strictEqual(roomy.code, 0, roomy.stderr);
    strictEqual((await listFiles(dest)).filter((f) => f.endsWith(".tar.gz")).length, 2);
  });
});
