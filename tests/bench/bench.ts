// `deno task bench`: backupd against GNU tar (gzip), tar with pigz, tar with zstd, restic
// and borg, alternating, measured in one run. Not a test. Three data sets:
//   - a real PostgreSQL 15 data folder: a cluster filled by `pgbench -i -s SCALE`, stopped;
//   - a generated database-like folder of --size GiB (and --big GiB, backupd only, to show
//     that memory stays flat);
//   - --small files of 4 KiB.
//
//   deno task bench [--scale N] [--size GIB] [--big GIB] [--small N] [--runs N] [--dir PATH]
//
// Needs GNU time, pigz, zstd, age, restic, borgbackup and PostgreSQL 15's server programs
// (Debian: apt-get install time pigz zstd age restic borgbackup postgresql-15), as root.

import { parseArgs } from "node:util";
import { asPostgres, cluster, mustRun } from "../e2e/local_pg.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    scale: { type: "string", default: "80" },
    size: { type: "string", default: "1" },
    big: { type: "string", default: "4" },
    small: { type: "string", default: "20000" },
    runs: { type: "string", default: "3" },
    dir: { type: "string" },
  },
});
const GIB = Number(values.size);
const BIG_GIB = Number(values.big);
const SMALL = Number(values.small);
const RUNS = Number(values.runs);
const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const decoder = new TextDecoder();

/** The command that `deno task backupd` runs, so the bench measures exactly that. */
function backupdCommand(): string[] {
  const config = JSON.parse(Deno.readTextFileSync(`${ROOT}/deno.json`));
  const words = (config.tasks.backupd as string).split(/\s+/);
  return [
    Deno.execPath(),
    ...words.slice(1).map((w) => w === "main.ts" ? `${ROOT}/main.ts` : w),
  ];
}

async function sh(cmd: string[], cwd = ROOT, env: Record<string, string> = {}): Promise<string> {
  const out = await new Deno.Command(cmd[0] as string, {
    args: cmd.slice(1),
    cwd,
    env,
    stderr: "piped",
    stdout: "piped",
  }).output();
  if (!out.success) throw new Error(`${cmd.join(" ")} failed: ${decoder.decode(out.stderr)}`);
  return decoder.decode(out.stdout);
}

/** Runs a command under GNU time; returns wall seconds and peak RSS in MB. */
async function measure(
  cmd: string[],
  env: Record<string, string> = {},
): Promise<{ seconds: number; rssMb: number }> {
  const out = await new Deno.Command("/usr/bin/time", {
    args: ["-f", "BENCH %e %M", ...cmd],
    cwd: ROOT,
    env,
    stdout: "null",
    stderr: "piped",
  }).output();
  const text = decoder.decode(out.stderr);
  const match = /BENCH ([\d.]+) (\d+)\s*$/.exec(text);
  if (!out.success && !/restore|verify/.test(cmd.join(" ")) || !match) {
    throw new Error(`${cmd.join(" ")}: ${text}`);
  }
  return { seconds: Number(match[1]), rssMb: Number(match[2]) / 1024 };
}

/** A fast deterministic PRNG (xorshift32). */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

/** Rows of a table: ids, names, departments, dates, a random token; gzip takes it ~3:1. */
function tableBytes(n: number, next: () => number): Uint8Array {
  const out = new Uint8Array(n);
  const encoder = new TextEncoder();
  let at = 0;
  while (at < n) {
    const r = next();
    const row = `${r % 1000000}|employee_${(r >>> 8) % 50000}|dept_${r % 40}|20${10 + (r % 17)}-0${
      1 + (r % 9)
    }-1${r % 10}|${(next() % 0xffffff).toString(16)}\n`;
    at += encoder.encodeInto(row, out.subarray(at)).written;
  }
  return out;
}

/** A database-like folder of `gib` GiB at `dir`/data; its bytes. */
async function generate(dir: string, gib: number): Promise<number> {
  const next = rng(42);
  let bytes = 0;
  await Deno.mkdir(`${dir}/data/base/16384`, { recursive: true });
  const total = gib * 1024 ** 3;
  // Big relation segments (64 MiB) and many 1 MiB ones, as PostgreSQL lays them out.
  for (let i = 0; bytes < total * 0.75; i++) {
    const size = 64 * 1024 * 1024;
    await Deno.writeFile(`${dir}/data/base/16384/${20000 + i}`, tableBytes(size, next));
    bytes += size;
  }
  for (let i = 0; bytes < total; i++) {
    await Deno.writeFile(`${dir}/data/base/16384/${30000 + i}`, tableBytes(1024 * 1024, next));
    bytes += 1024 * 1024;
  }
  return bytes;
}

/** SMALL files of 4 KiB in folders of 1000 at `dir`/small. */
async function generateSmall(dir: string): Promise<void> {
  const next = rng(7);
  for (let i = 0; i < SMALL; i++) {
    if (i % 1000 === 0) await Deno.mkdir(`${dir}/small/d${i / 1000}`, { recursive: true });
    await Deno.writeFile(`${dir}/small/d${Math.floor(i / 1000)}/f${i}`, tableBytes(4096, next));
  }
}

/** A PostgreSQL 15 cluster filled by pgbench at `dir`/pg, stopped; its data folder and size. */
async function generatePgbench(dir: string): Promise<{ data: string; bytes: number }> {
  await Deno.mkdir(dir, { recursive: true });
  await Deno.chmod(dir, 0o755);
  const db = await cluster(dir, `${dir}/pg`, { checksums: true });
  await db.start();
  try {
    await mustRun(
      asPostgres("pgbench", ...db.socketArgs, "-i", "-q", "-s", values.scale, "postgres"),
      "pgbench -i",
    );
    await db.psql("CHECKPOINT");
  } finally {
    await db.stop();
  }
  const bytes = Number((await sh(["du", "-sb", db.data])).split("\t")[0]);
  return { data: db.data, bytes };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

async function fresh(path: string): Promise<string> {
  await Deno.remove(path, { recursive: true }).catch(() => undefined);
  await Deno.mkdir(path, { recursive: true });
  return path;
}

async function onlyFile(dir: string, ending: string): Promise<string> {
  for await (const day of Deno.readDir(dir)) {
    if (!day.isDirectory || day.name.startsWith(".")) continue;
    for await (const f of Deno.readDir(`${dir}/${day.name}`)) {
      if (f.name.endsWith(ending)) return `${dir}/${day.name}/${f.name}`;
    }
  }
  throw new Error(`no ${ending} in ${dir}`);
}

const work = values.dir ?? await Deno.makeTempDir({ prefix: "backupd-bench-" });
await Deno.chmod(work, 0o755);
const backupd = backupdCommand();
console.log(
  `generating: pgbench scale ${values.scale}, ${GIB} and ${BIG_GIB} GiB of database-like data, ${SMALL} files of 4 KiB, in ${work} ...`,
);
const pg = await generatePgbench(`${work}/pgbench`);
const synthBytes = await generate(`${work}/synthetic`, GIB);
await generate(`${work}/big`, BIG_GIB);
await generateSmall(work);

const cpu = (await Deno.readTextFile("/proc/cpuinfo")).match(/model name\s*:\s*(.*)/)?.[1] ??
  "unknown CPU";
const firstLine = async (cmd: string[]) => (await sh(cmd)).split("\n")[0]?.trim() ?? "";
console.log(
  `machine: ${navigator.hardwareConcurrency} cores, ${cpu}, ${
    (Deno.systemMemoryInfo().total / 1024 ** 3).toFixed(0)
  } GiB; deno ${Deno.version.deno}; ${await firstLine(["tar", "--version"])}; pigz ${
    (await sh(["pigz", "--version"])).trim() || "(version on stderr)"
  }; ${await firstLine(["zstd", "--version"])}; ${await firstLine([
    "restic",
    "version",
  ])}; ${await firstLine(
    ["borg", "--version"],
  )}`,
);

// A key pair for the encrypted cases; the identity itself is not needed to encrypt.
const recipient = /# public key: (age1[0-9a-z]+)/.exec(await sh(["age-keygen"]))?.[1] ?? "";
const PASS = { RESTIC_PASSWORD: "bench", BORG_PASSPHRASE: "bench" };

/** Times `backupd now` from SOURCE into a fresh DEST. */
const measureNow = async (source: string, dest: string, ...extra: string[]) =>
  measure([...backupd, "now", "--source", source, "--dest", await fresh(dest), ...extra]);

type Case = {
  name: string;
  group: string;
  run: () => Promise<{ seconds: number; rssMb: number }>;
  size?: () => Promise<number>;
};
const out = `${work}/out`;
const sizeOf = async (p: string) => (await Deno.stat(p)).size;
const pgParent = pg.data.replace(/\/[^/]+$/, "");
const pgName = pg.data.split("/").at(-1) as string;
/** A tar of the pgbench folder, by `tar` with `flags`, into a fresh `dir`. */
const tarPg = (flags: string[], dir: string, file: string): Case["run"] => async () =>
  measure(["tar", ...flags, `${await fresh(`${out}/${dir}`)}/${file}`, "-C", pgParent, pgName]);

const cases: Case[] = [
  {
    group: "pgbench",
    name: "backupd now (gzip)",
    run: () => measureNow(pg.data, `${out}/gz`),
    size: async () => sizeOf(await onlyFile(`${out}/gz`, ".tar.gz")),
  },
  {
    group: "pgbench",
    name: "tar -czf",
    run: tarPg(["-czf"], "tar", "a.tgz"),
    size: () => sizeOf(`${out}/tar/a.tgz`),
  },
  {
    group: "pgbench",
    name: "tar -I pigz -cf",
    run: tarPg(["-I", "pigz", "-cf"], "pigz", "a.tgz"),
    size: () => sizeOf(`${out}/pigz/a.tgz`),
  },
  {
    group: "pgbench",
    name: "backupd now --compression zstd",
    run: () => measureNow(pg.data, `${out}/zst`, "--compression", "zstd"),
    size: async () => sizeOf(await onlyFile(`${out}/zst`, ".tar.zst")),
  },
  {
    group: "pgbench",
    name: "tar -I 'zstd -T0 -3' -cf",
    run: tarPg(["-I", "zstd -T0 -3", "-cf"], "tzst", "a.tar.zst"),
    size: () => sizeOf(`${out}/tzst/a.tar.zst`),
  },
  {
    group: "pgbench",
    name: "backupd now --age-recipient",
    run: () => measureNow(pg.data, `${out}/age`, "--age-recipient", recipient),
    size: async () => sizeOf(await onlyFile(`${out}/age`, ".tar.gz.age")),
  },
  {
    group: "pgbench",
    name: "restic backup (AES-256, new repo)",
    run: async () => {
      const repo = `${await fresh(`${out}/restic`)}/repo`;
      await sh(["restic", "init", "--repo", repo], ROOT, PASS);
      return measure(["restic", "backup", "--repo", repo, pg.data], PASS);
    },
    size: async () => Number((await sh(["du", "-sb", `${out}/restic/repo`])).split("\t")[0]),
  },
  {
    group: "pgbench",
    name: "borg create (repokey-blake2, lz4)",
    run: async () => {
      const repo = `${await fresh(`${out}/borg`)}/repo`;
      await sh(["borg", "init", "--encryption=repokey-blake2", repo], ROOT, PASS);
      return measure(["borg", "create", `${repo}::a`, pg.data], PASS);
    },
    size: async () => Number((await sh(["du", "-sb", `${out}/borg/repo`])).split("\t")[0]),
  },
  {
    group: "pgbench",
    name: "backupd verify",
    run: async () => measure([...backupd, "verify", await onlyFile(`${out}/gz`, ".tar.gz")]),
  },
  { group: "pgbench", name: "tar -tzf", run: () => measure(["tar", "-tzf", `${out}/tar/a.tgz`]) },
  {
    group: "pgbench",
    name: "backupd restore",
    run: async () => {
      await Deno.remove(`${out}/r1`, { recursive: true }).catch(() => undefined);
      return measure([
        ...backupd,
        "restore",
        await onlyFile(`${out}/gz`, ".tar.gz"),
        "--to",
        `${out}/r1`,
      ]);
    },
  },
  {
    group: "pgbench",
    name: "tar -xzf",
    run: async () => measure(["tar", "-xzf", `${out}/tar/a.tgz`, "-C", await fresh(`${out}/r2`)]),
  },
  {
    group: "synthetic",
    name: `backupd now (${GIB} GiB)`,
    run: () => measureNow(`${work}/synthetic/data`, `${out}/s1`),
  },
  {
    group: "synthetic",
    name: `tar -czf (${GIB} GiB)`,
    run: async () =>
      measure([
        "tar",
        "-czf",
        `${await fresh(`${out}/s2`)}/a.tgz`,
        "-C",
        `${work}/synthetic`,
        "data",
      ]),
  },
  {
    group: "synthetic",
    name: `backupd now (${BIG_GIB} GiB)`,
    run: () => measureNow(`${work}/big/data`, `${out}/s3`),
  },
  {
    group: "small",
    name: `backupd now (${SMALL} x 4 KiB)`,
    run: () => measureNow(`${work}/small`, `${out}/small`),
  },
  {
    group: "small",
    name: `tar -czf (${SMALL} x 4 KiB)`,
    run: async () =>
      measure(["tar", "-czf", `${await fresh(`${out}/smalltar`)}/a.tgz`, "-C", work, "small"]),
  },
];

const results = new Map<string, { seconds: number[]; rss: number[]; size?: number }>();
for (let round = 1; round <= RUNS; round++) {
  for (const c of cases) {
    const r = await c.run();
    const entry = results.get(c.name) ?? { seconds: [], rss: [] };
    entry.seconds.push(r.seconds);
    entry.rss.push(r.rssMb);
    if (c.size) entry.size = await c.size();
    results.set(c.name, entry);
    console.log(
      `round ${round}: ${c.name.padEnd(36)} ${r.seconds.toFixed(2)} s  ${r.rssMb.toFixed(0)} MB`,
    );
  }
}

const med = (name: string) => median(results.get(name)?.seconds ?? []);
const rss = (name: string) => Math.max(...(results.get(name)?.rss ?? [NaN]));
const mbOf: Record<string, number> = {
  pgbench: pg.bytes / 1e6,
  synthetic: synthBytes / 1e6,
  small: (SMALL * 4096) / 1e6,
};
console.log(
  `\npgbench -i -s ${values.scale}: ${mbOf.pgbench?.toFixed(0)} MB with its WAL; synthetic ${
    mbOf.synthetic?.toFixed(0)
  } MB; ${SMALL} small files; medians of ${RUNS} alternating runs\n`,
);
console.log(
  "| data | command | median s | MB/s | peak RSS MB | output MB |\n| --- | --- | --- | --- | --- | --- |",
);
for (const c of cases) {
  const r = results.get(c.name);
  if (!r) continue;
  const big = c.name.includes(`(${BIG_GIB} GiB)`);
  const mb = big ? (BIG_GIB * 1024 ** 3) / 1e6 : mbOf[c.group] ?? NaN;
  const speed = c.name.includes("verify") || c.name.includes("restore") || / -[tx]zf/.test(c.name)
    ? ""
    : (mb / med(c.name)).toFixed(0);
  console.log(
    `| ${c.group} | ${c.name} | ${med(c.name).toFixed(2)} | ${speed} | ${
      rss(c.name).toFixed(0)
    } | ${r.size ? (r.size / 1e6).toFixed(0) : ""} |`,
  );
}
const ratio = (a: string, b: string) => med(b) / med(a);
const line = (what: string, value: number, target: string, holds: boolean, unit = "x") =>
  console.log(
    `  ${what.padEnd(44)} ${value.toFixed(2)} ${unit}  (target ${target}: ${
      holds ? "holds" : "MISSED"
    })`,
  );
console.log("\nratios on the pgbench set (higher is better for backupd unless said):");
const vsTar = ratio("backupd now (gzip)", "tar -czf");
const vsPigz = ratio("backupd now (gzip)", "tar -I pigz -cf");
const vsZstd = ratio("backupd now --compression zstd", "tar -I 'zstd -T0 -3' -cf");
const verify = ratio("backupd verify", "tar -tzf");
const restore = ratio("backupd restore", "tar -xzf");
const small = med(`backupd now (${SMALL} x 4 KiB)`) / med(`tar -czf (${SMALL} x 4 KiB)`);
line("gzip backup vs tar -czf", vsTar, ">= 2.5", vsTar >= 2.5);
line("gzip backup vs tar -I pigz", vsPigz, ">= 1.25", vsPigz >= 1.25);
line("zstd backup vs tar -I 'zstd -T0 -3'", vsZstd, ">= 0.8", vsZstd >= 0.8);
line("verify vs tar -tzf", verify, ">= 4", verify >= 4);
line("restore vs tar -xzf", restore, ">= 2", restore >= 2);
line(`small files: our time / tar -czf's (lower)`, small, "<= 0.7", small <= 0.7);
line(
  "encrypted backup vs restic",
  ratio("backupd now --age-recipient", "restic backup (AES-256, new repo)"),
  "none",
  true,
);
line(
  "encrypted backup vs borg",
  ratio("backupd now --age-recipient", "borg create (repokey-blake2, lz4)"),
  "none",
  true,
);
const backupRss = Math.max(
  rss("backupd now (gzip)"),
  rss(`backupd now (${GIB} GiB)`),
  rss(`backupd now (${BIG_GIB} GiB)`),
);
line(
  `peak RSS of a backup (pgbench, ${GIB} GiB, ${BIG_GIB} GiB)`,
  backupRss,
  "<= 128",
  backupRss <= 128,
  "MB",
);
const readRss = Math.max(rss("backupd verify"), rss("backupd restore"));
line("peak RSS of verify and restore", readRss, "<= 160", readRss <= 160, "MB");
if (!values.dir) await Deno.remove(work, { recursive: true });
