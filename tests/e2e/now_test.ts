// `backupd now` as an operator meets it: files changing under it, a kill mid-write, bad
// settings, special files, excludes, and the progress bar only on a terminal.

import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import {
  BACKUPD,
  backupd,
  backupNow,
  baseEnv,
  isRoot,
  listFiles,
  onlyArchive,
  randomFile,
  ROOT,
  run,
  signalProcess,
  spawnBackupd,
  tempDir,
  waitFor,
} from "../helpers.ts";

const MB = 1_000_000;

async function partialSize(dest: string): Promise<number | undefined> {
  try {
    for (const file of await listFiles(dest)) {
      if (file.endsWith(".partial")) return (await Deno.stat(`${dest}/${file}`)).size;
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return undefined;
}

/** Entry sizes of a .tar.gz as Python's tarfile reads them. */
async function entrySizes(archive: string): Promise<Record<string, number>> {
  const listed = await run("python3", [
    "-c",
    "import sys,tarfile,json\nwith tarfile.open(sys.argv[1]) as t: print(json.dumps({m.name: m.size for m in t}))",
    archive,
  ]);
  strictEqual(listed.code, 0, listed.stderr);
  return JSON.parse(listed.stdout);
}

Deno.test("backupd now stores files at their opened size when they grow or shrink while read", async () => {
  await using tmpDir = await tempDir();
  const tmp = tmpDir.path;
  const source = `${tmp}/data`;
  const dest = `${tmp}/backup`;
  await Deno.mkdir(source);
  await randomFile(`${source}/a-grows`, 150);
  await randomFile(`${source}/b-shrinks`, 150);

  const child = spawnBackupd(["now", "--source", source, "--dest", dest]);
  const output = child.output();
  // a-grows is read first: grow it once the archive has started.
  await waitFor(
    "the partial archive",
    async () => ((await partialSize(dest)) ?? 0) > 1 * MB || undefined,
  );
  using grow = await Deno.open(`${source}/a-grows`, { append: true });
  await grow.write(new Uint8Array(5 * MB).fill(7));
  // Random data does not compress: past 170 MB of output, b-shrinks is being read.
  await waitFor(
    "b-shrinks being read",
    async () => ((await partialSize(dest)) ?? 0) > 170 * MB || undefined,
  );
  await Deno.truncate(`${source}/b-shrinks`, 1 * MB);
  const result = await output;
  const stderr = new TextDecoder().decode(result.stderr);

  strictEqual(result.code, 1, stderr);
  match(stderr, /WARN grew while read; stored cut to 150000000 bytes path=data\/a-grows/);
  match(
    stderr,
    /WARN shrank while read; stored padded with zeros to 150000000 bytes path=data\/b-shrinks/,
  );
  match(stderr, /INFO backup done .* warnings=2/);
  const archive = await onlyArchive(dest);
  strictEqual((await run("gzip", ["-t", archive])).code, 0);
  const listed = await run("tar", ["-tzf", archive]);
  strictEqual(listed.code, 0, listed.stderr);
  deepStrictEqual(await entrySizes(archive), {
    "data": 0,
    "data/a-grows": 150 * MB,
    "data/b-shrinks": 150 * MB,
  });
});

Deno.test("backupd now killed mid-write leaves no final name, and the next run removes the partial", async () => {
  await using tmpDir = await tempDir();
  const tmp = tmpDir.path;
  const source = `${tmp}/data`;
  const dest = `${tmp}/backup`;
  await Deno.mkdir(source);
  await randomFile(`${source}/big`, 200);

  const child = spawnBackupd(["now", "--source", source, "--dest", dest]);
  await waitFor(
    "the partial archive",
    async () => ((await partialSize(dest)) ?? 0) > 1 * MB || undefined,
  );
  // `deno task` runs backupd as its child: the lock file names the process to kill.
  const holder = await Deno.readTextFile(`${dest}/.backupd/lock`);
  const pid = Number(/^pid (\d+)/.exec(holder)?.[1]);
  signalProcess(pid, "SIGKILL");
  const killed = await child.output();
  strictEqual(killed.code, 137, new TextDecoder().decode(killed.stderr));
  const left = (await listFiles(dest)).filter((f) =>
    !f.endsWith("/") && !f.startsWith(".backupd/")
  );
  strictEqual(left.length, 1, `expected only the partial, found ${left}`);
  match(left[0] ?? "", /^\d{4}-\d{2}-\d{2}\/\.\d{2}-\d{2}-\d{2}\.tar\.gz\.partial$/);

  // The lock file still names the killed process; its flock died with it and must not block.
  match(await Deno.readTextFile(`${dest}/.backupd/lock`), new RegExp(`^pid ${pid} `));
  await Deno.truncate(`${source}/big`, 1 * MB);
  const next = await backupNow(source, dest);
  strictEqual(next.code, 0, next.stderr);
  match(
    next.stderr,
    new RegExp(
      `removed a partial file left by an interrupted run path=${left[0]?.replace(".", "\\.")}`,
    ),
  );
  const after = (await listFiles(dest)).filter((f) =>
    !f.endsWith("/") && !f.startsWith(".backupd/")
  );
  strictEqual(after.length, 2, `expected one archive and its sidecar, found ${after}`);
  strictEqual(after.some((f) => f.endsWith(".partial")), false);
});

Deno.test("backupd now skips sockets and FIFOs, leaves out excludes and DEST inside SOURCE", async () => {
  await using tmpDir = await tempDir();
  const source = `${tmpDir.path}/data`;
  const dest = `${source}/backups`;
  await Deno.mkdir(`${source}/pg_wal`, { recursive: true });
  await Deno.writeTextFile(`${source}/keep.txt`, "keep\n");
  await Deno.writeTextFile(`${source}/scratch.tmp`, "temp\n");
  await Deno.writeTextFile(`${source}/pg_wal/000001`, "wal\n");
  strictEqual((await run("mkfifo", [`${source}/fifo`])).code, 0);
  const listener = Deno.listen({ transport: "unix", path: `${source}/socket` });
  try {
    const result = await backupNow(source, dest, ["--exclude", "*.tmp", "--exclude", "pg_wal"]);
    strictEqual(result.code, 1, result.stderr);
    match(result.stderr, /WARN skipped: a FIFO cannot be archived path=data\/fifo/);
    match(result.stderr, /WARN skipped: a socket cannot be archived path=data\/socket/);
    const names = Object.keys(await entrySizes(await onlyArchive(dest)));
    deepStrictEqual(names, ["data", "data/keep.txt"]);
  } finally {
    listener.close();
  }
});

Deno.test("backupd now with BACKUP_* variables uses them, and flags win over them", async () => {
  await using tmpDir = await tempDir();
  const tmp = tmpDir.path;
  await Deno.mkdir(`${tmp}/from-env`);
  await Deno.mkdir(`${tmp}/from-flag`);
  await Deno.writeTextFile(`${tmp}/from-env/env.txt`, "env\n");
  await Deno.writeTextFile(`${tmp}/from-flag/flag.txt`, "flag\n");
  const env = { BACKUP_SOURCE: `${tmp}/from-env`, BACKUP_DEST: `${tmp}/dest-env` };
  strictEqual((await backupd(["now"], env)).code, 0);
  deepStrictEqual(Object.keys(await entrySizes(await onlyArchive(`${tmp}/dest-env`))), [
    "from-env",
    "from-env/env.txt",
  ]);
  strictEqual(
    (await backupNow(`${tmp}/from-flag`, `${tmp}/dest-flag`, [], env))
      .code,
    0,
  );
  deepStrictEqual(Object.keys(await entrySizes(await onlyArchive(`${tmp}/dest-flag`))), [
    "from-flag",
    "from-flag/flag.txt",
  ]);
});

Deno.test("backupd now draws a progress bar on a terminal and none on a pipe", async () => {
  await using tmpDir = await tempDir();
  const tmp = tmpDir.path;
  await Deno.mkdir(`${tmp}/data`);
  await randomFile(`${tmp}/data/f`, 20);
  const piped = await backupNow(`${tmp}/data`, `${tmp}/b1`);
  strictEqual(piped.code, 0, piped.stderr);
  strictEqual(/ETA|\r/.test(piped.stderr), false, "progress on a pipe");

  // script(1) gives the program a terminal; its transcript is what the terminal showed.
  const command = [
    Deno.execPath(),
    ...BACKUPD,
    "now",
    "--source",
    `${tmp}/data`,
    "--dest",
    `${tmp}/b2`,
  ]
    .map((a) => `'${a}'`).join(" ");
  const onTerminal = await run("script", ["-qec", command, "/dev/null"], {
    env: baseEnv(),
    cwd: ROOT,
  });
  strictEqual(onTerminal.code, 0, onTerminal.stdout);
  match(
    onTerminal.stdout,
    // deno-lint-ignore no-control-regex
    /\r\x1b\[K\[[#-]{30}\] +\d+% {2}[\d.]+ \w?i?B \/ 19\.1 MiB {2}[\d.]+ \w?i?B\/s {2}ETA \d+:\d\d/,
  );
});

const BAD: [string, string[], Record<string, string>, RegExp][] = [
  [
    "missing SOURCE",
    ["--source", "/nonexistent/data"],
    {},
    /^backupd: Cannot use --source "\/nonexistent\/data": no such file or folder$/,
  ],
  [
    "DEST equal to SOURCE",
    ["--source", "SRC", "--dest", "SRC"],
    {},
    /^backupd: Cannot use --dest "[^"]+": is the source folder "[^"]+"$/,
  ],
  [
    "an unknown flag",
    ["--frobnicate"],
    {},
    /^backupd: Cannot parse the command line: unknown option '--frobnicate'$/,
  ],
  [
    "a bad cron",
    [],
    { BACKUP_SCHEDULE: "0 25 * * *" },
    /^backupd: Cannot use BACKUP_SCHEDULE "0 25 \* \* \*": not a valid cron expression/,
  ],
  [
    "a cron with too few fields",
    [],
    { BACKUP_SCHEDULE: "0 1 *" },
    /^backupd: Cannot use BACKUP_SCHEDULE "0 1 \*": expected 5 or 6 cron fields, got 3$/,
  ],
  [
    "an unknown zone",
    ["--tz", "Mars/Olympus_Mons"],
    {},
    /^backupd: Cannot use --tz "Mars\/Olympus_Mons": unknown time zone$/,
  ],
  [
    "an unknown TZ",
    [],
    { TZ: "Nowhere/Land" },
    /^backupd: Cannot use TZ "Nowhere\/Land": unknown time zone$/,
  ],
  [
    "a bad number",
    ["--keep-last", "three"],
    {},
    /^backupd: Cannot use --keep-last "three": expected a whole number$/,
  ],
  [
    "a negative number",
    [],
    { BACKUP_KEEP_DAILY: "-1" },
    /^backupd: Cannot use BACKUP_KEEP_DAILY "-1": expected a whole number$/,
  ],
  [
    "a bad compression",
    ["--compression", "bzip2"],
    {},
    /^backupd: Cannot use --compression "bzip2": expected gzip or zstd$/,
  ],
  [
    "a bad S3 address",
    ["--s3-url", "https://bucket.example/db"],
    {},
    /^backupd: Cannot use --s3-url "https:\/\/bucket.example\/db": expected s3:\/\/BUCKET\/PREFIX$/,
  ],
  [
    "a bad age recipient",
    [],
    { BACKUP_AGE_RECIPIENTS: "age1notakey" },
    /^backupd: Cannot use BACKUP_AGE_RECIPIENTS "age1notakey": not a valid age public key/,
  ],
  [
    "an empty --source (never the working folder)",
    ["--source", ""],
    {},
    /^backupd: Cannot use --source "": expected a folder$/,
  ],
  [
    "an empty BACKUP_DEST",
    ["--dest", "SRC-DEST-UNSET"],
    { BACKUP_DEST: "" },
    /^backupd: Cannot use BACKUP_DEST "": expected a folder$/,
  ],
  [
    "an unterminated glob",
    ["--exclude", "["],
    {},
    /^backupd: Cannot use --exclude "\[": an unterminated \[ set$/,
  ],
  [
    "a PostgreSQL address that is not one, with its password masked",
    ["--postgres", "mysql://root:hunter2@db/app"],
    {},
    /^backupd: Cannot use --postgres "mysql:\/\/root:\*\*\*@db\/app": expected postgres:\/\/USER@HOST:PORT\/DATABASE, or postgres:\/\/USER@\/DATABASE\?host=\/SOCKET\/FOLDER$/,
  ],
  [
    "a credentials file that is not there",
    ["--s3-url", "s3://backups/db"],
    { AWS_ACCESS_KEY_ID: "id", AWS_SECRET_ACCESS_KEY_FILE: "/nonexistent/secret" },
    /^backupd: Cannot use AWS_SECRET_ACCESS_KEY_FILE "\/nonexistent\/secret": no such file$/,
  ],
];

for (const [what, args, env, message] of BAD) {
  Deno.test(`backupd now exits 2 with one line when given ${what}`, async () => {
    await using tmpDir = await tempDir();
    const tmp = tmpDir.path;
    await Deno.mkdir(`${tmp}/src`);
    // A case about the environment's DEST leaves --dest out, so the variable is read.
    const defaults = ["--source", `${tmp}/src`, "--dest", `${tmp}/dest`];
    const ownDest = args[1] === "SRC-DEST-UNSET";
    const withPaths = ownDest ? [] : args.map((a) => a === "SRC" ? `${tmp}/src` : a);
    const result = await backupd(
      ["now", ...(ownDest ? defaults.slice(0, 2) : defaults), ...withPaths],
      env,
    );
    strictEqual(result.code, 2, result.stderr);
    const lines = result.stderr.split("\n").filter((l) => l !== "");
    strictEqual(lines.length, 1, result.stderr);
    match(lines[0] ?? "", message);
    strictEqual(result.stdout, "");
  });
}

Deno.test("backupd list and verify --remote exit 2 with one line without --s3-url", async () => {
  for (const command of ["list", "verify"]) {
    const result = await backupd([command, "--remote", "--dest", "/nonexistent"]);
    strictEqual(result.code, 2);
    strictEqual(result.stdout, "");
    match(
      result.stderr,
      /^backupd: Cannot (list the bucket|verify the bucket's archives): give --s3-url s3:\/\/BUCKET\/PREFIX \(or BACKUP_S3_URL\)\n$/,
    );
  }
});

Deno.test("backupd now exits 2 with one line when DEST is not writable", async () => {
  await using tmpDir = await tempDir();
  const tmp = tmpDir.path;
  await Deno.mkdir(`${tmp}/src`);
  await Deno.mkdir(`${tmp}/ro`);
  const dest = `${tmp}/ro/backup`;
  if (isRoot()) {
    // Root writes through modes; a read-only mount stops it.
    strictEqual(
      (await run("mount", ["-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", `${tmp}/ro`])).code,
      0,
    );
  } else {
    await Deno.chmod(`${tmp}/ro`, 0o555);
  }
  try {
    const result = await backupNow(`${tmp}/src`, dest);
    strictEqual(result.code, 2, result.stderr);
    const lines = result.stderr.split("\n").filter((l) => l !== "");
    deepStrictEqual(lines.length, 1, result.stderr);
    match(
      lines[0] ?? "",
      /^backupd: Cannot use --dest "[^"]+\/ro\/backup": not writable: (read-only file system|permission denied)$/,
    );
  } finally {
    if (isRoot()) await run("umount", [`${tmp}/ro`]);
  }
});
