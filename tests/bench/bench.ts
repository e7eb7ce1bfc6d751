// `deno task bench`: backupd against GNU tar (gzip), tar with pigz and tar --zstd on a
// generated database-like data set, alternating, measured in one run. Not a test.
//
//   deno task bench [--size GIB] [--small N] [--runs N] [--dir PATH]
//
// Needs GNU time (/usr/bin/time), pigz and zstd (Debian: apt-get install time pigz zstd).

import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    size: { type: "string", default: "1" },
    small: { type: "string", default: "20000" },
    runs: { type: "string", default: "3" },
    dir: { type: "string" },
  },
});
const GIB = Number(values.size);
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

async function sh(cmd: string[], cwd = ROOT): Promise<string> {
  const out = await new Deno.Command(cmd[0] as string, {
    args: cmd.slice(1),
    cwd,
    stderr: "piped",
    stdout: "piped",
  }).output();
  if (!out.success) throw new Error(`${cmd.join(" ")} failed: ${decoder.decode(out.stderr)}`);
  return decoder.decode(out.stdout);
}

/** Runs a command under GNU time; returns wall seconds and peak RSS in MB. */
async function measure(cmd: string[]): Promise<{ seconds: number; rssMb: number }> {
  const out = await new Deno.Command("/usr/bin/time", {
    args: ["-f", "BENCH %e %M", ...cmd],
    cwd: ROOT,
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

async function generate(dir: string): Promise<{ bytes: number }> {
  const next = rng(42);
  let bytes = 0;
  await Deno.mkdir(`${dir}/data/base/16384`, { recursive: true });
  const total = GIB * 1024 ** 3;
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
  for (let i = 0; i < SMALL; i++) {
    if (i % 1000 === 0) await Deno.mkdir(`${dir}/small/d${i / 1000}`, { recursive: true });
    await Deno.writeFile(`${dir}/small/d${Math.floor(i / 1000)}/f${i}`, tableBytes(4096, next));
  }
  await Deno.mkdir(`${dir}/data/small`);
  await sh(["cp", "-r", `${dir}/small/.`, `${dir}/data/small/`]);
  return { bytes: bytes + SMALL * 4096 };
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
const backupd = backupdCommand();
console.log(
  `generating ${GIB} GiB of database-like data and ${SMALL} files of 4 KiB in ${work} ...`,
);
const { bytes } = await generate(work);

const cpu = (await Deno.readTextFile("/proc/cpuinfo")).match(/model name\s*:\s*(.*)/)?.[1] ??
  "unknown CPU";
console.log(
  `machine: ${navigator.hardwareConcurrency} cores, ${cpu}, ${
    (Deno.systemMemoryInfo().total / 1024 ** 3).toFixed(0)
  } GiB; ` +
    `${Deno.version.deno}; ${(await sh(["tar", "--version"])).split("\n")[0]}; pigz ${
      (await sh(["pigz", "--version"])).trim() || "(version on stderr)"
    }`,
);

// A key pair for the encrypted cases; the identity itself is not needed to encrypt.
const recipient = /# public key: (age1[0-9a-z]+)/.exec(await sh(["age-keygen"]))?.[1] ?? "";

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
const cases: Case[] = [
  {
    group: "backup",
    name: "backupd now (gzip)",
    run: () => measureNow(`${work}/data`, `${out}/gz`),
    size: async () => sizeOf(await onlyFile(`${out}/gz`, ".tar.gz")),
  },
  {
    group: "backup",
    name: "tar -czf",
    run: async () =>
      measure(["tar", "-czf", `${await fresh(`${out}/tar`)}/a.tgz`, "-C", work, "data"]),
    size: () => sizeOf(`${out}/tar/a.tgz`),
  },
  {
    group: "backup",
    name: "tar -I pigz -cf",
    run: async () =>
      measure([
        "tar",
        "-I",
        "pigz",
        "-cf",
        `${await fresh(`${out}/pigz`)}/a.tgz`,
        "-C",
        work,
        "data",
      ]),
    size: () => sizeOf(`${out}/pigz/a.tgz`),
  },
  {
    group: "backup",
    name: "backupd now --compression zstd",
    run: () => measureNow(`${work}/data`, `${out}/zst`, "--compression", "zstd"),
    size: async () => sizeOf(await onlyFile(`${out}/zst`, ".tar.zst")),
  },
  {
    group: "backup",
    name: "tar --zstd -cf",
    run: async () =>
      measure([
        "tar",
        "--zstd",
        "-cf",
        `${await fresh(`${out}/tzst`)}/a.tar.zst`,
        "-C",
        work,
        "data",
      ]),
    size: () => sizeOf(`${out}/tzst/a.tar.zst`),
  },
  {
    group: "backup",
    name: "backupd now --age-recipient",
    run: () => measureNow(`${work}/data`, `${out}/age`, "--age-recipient", recipient),
    size: async () => sizeOf(await onlyFile(`${out}/age`, ".tar.gz.age")),
  },
  {
    group: "backup",
    name: "tar -czf | age -r",
    run: async () =>
      measure([
        "sh",
        "-c",
        'tar -czf - -C "$1" data | age -r "$2" > "$3/a.tgz.age"',
        "sh",
        work,
        recipient,
        await fresh(`${out}/tage`),
      ]),
    size: () => sizeOf(`${out}/tage/a.tgz.age`),
  },
  {
    group: "small files",
    name: `backupd now (${SMALL} x 4 KiB)`,
    run: () => measureNow(`${work}/small`, `${out}/small`),
  },
  {
    group: "small files",
    name: `tar -czf (${SMALL} x 4 KiB)`,
    run: async () =>
      measure(["tar", "-czf", `${await fresh(`${out}/smalltar`)}/a.tgz`, "-C", work, "small"]),
  },
  {
    group: "verify",
    name: "backupd verify",
    run: async () => measure([...backupd, "verify", await onlyFile(`${out}/gz`, ".tar.gz")]),
  },
  { group: "verify", name: "tar -tzf", run: () => measure(["tar", "-tzf", `${out}/tar/a.tgz`]) },
  {
    group: "restore",
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
    group: "restore",
    name: "tar -xzf",
    run: async () => measure(["tar", "-xzf", `${out}/tar/a.tgz`, "-C", await fresh(`${out}/r2`)]),
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
      `round ${round}: ${c.name.padEnd(34)} ${r.seconds.toFixed(2)} s  ${r.rssMb.toFixed(0)} MB`,
    );
  }
}

const med = (name: string) => median(results.get(name)?.seconds ?? []);
const dataMb = bytes / 1e6;
const smallMb = (SMALL * 4096) / 1e6;
console.log(
  `\ndata: ${
    dataMb.toFixed(0)
  } MB (of which ${SMALL} small files), medians of ${RUNS} alternating runs\n`,
);
console.log(
  "| command | median s | MB/s | peak RSS MB | archive MB |\n| --- | --- | --- | --- | --- |",
);
for (const c of cases) {
  const r = results.get(c.name);
  if (!r) continue;
  const mb = c.group === "small files" ? smallMb : dataMb;
  console.log(
    `| ${c.name} | ${med(c.name).toFixed(2)} | ${(mb / med(c.name)).toFixed(0)} | ${
      Math.max(...r.rss).toFixed(0)
    } | ${r.size ? (r.size / 1e6).toFixed(0) : ""} |`,
  );
}
const ratio = (a: string, b: string) => (med(b) / med(a)).toFixed(2);
console.log(`
ratios (higher is better for backupd):
  backup throughput vs tar -czf:        ${
  ratio("backupd now (gzip)", "tar -czf")
} x   (target >= 1.5)
  backup throughput vs tar -I pigz:     ${
  ratio("backupd now (gzip)", "tar -I pigz -cf")
} x   (target >= 1.0)
  small files, tar time / ours:         ${
  ratio(`backupd now (${SMALL} x 4 KiB)`, `tar -czf (${SMALL} x 4 KiB)`)
} x   (target >= 0.67, i.e. at most 1.5 x tar's time)
  verify vs tar -tzf:                   ${ratio("backupd verify", "tar -tzf")} x   (target >= 2)
  restore vs tar -xzf:                  ${ratio("backupd restore", "tar -xzf")} x   (target >= 1)
  zstd backup vs tar --zstd:            ${
  ratio("backupd now --compression zstd", "tar --zstd -cf")
} x
  encrypted backup vs tar -czf | age:   ${
  ratio("backupd now --age-recipient", "tar -czf | age -r")
} x
  cost of encryption (plain / age):     ${
  ratio("backupd now --age-recipient", "backupd now (gzip)")
} x
  peak RSS of backupd now:              ${
  Math.max(...(results.get("backupd now (gzip)")?.rss ?? [])).toFixed(0)
} MB   (target <= 150)`);
if (!values.dir) await Deno.remove(work, { recursive: true });
