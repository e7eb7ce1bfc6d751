import { type BufferedTarOut, bufferedTarOut } from "../lib/codec/block_output.ts";
// Shared test helpers: run backupd as users do (through `deno task backupd`, so with the
// production permission set), run other programs, make and compare trees.

import { createHash } from "node:crypto";

/** The repository root. */
export const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** What a finished process left. */
export interface Finished {
  code: number;
  stdout: string;
  stderr: string;
}

const decoder = new TextDecoder();

/** What child processes keep of the caller's environment: paths, locale, TLS trust, proxies. */
const PASSED = [
  "PATH",
  "HOME",
  "DENO_DIR",
  "LANG",
  "LC_ALL",
  "DENO_CERT",
  "DENO_TLS_CA_STORE",
  "SSL_CERT_FILE",
  "SSL_CERT_DIR",
  "NODE_EXTRA_CA_CERTS",
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "NO_PROXY",
  "http_proxy",
  "https_proxy",
  "no_proxy",
];

/** Environment for child processes: the caller's PATH, HOME and TLS trust, nothing of BACKUP_*. */
export function baseEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of PASSED) {
    const value = Deno.env.get(key);
    if (value !== undefined) env[key] = value;
  }
  return { ...env, ...extra };
}

/**
 * Runs a program to its end.
 */
export async function run(
  cmd: string,
  args: string[],
  options: { env?: Record<string, string>; cwd?: string; stdin?: string } = {},
): Promise<Finished> {
  const child = new Deno.Command(cmd, {
    args,
    cwd: options.cwd ?? ROOT,
    env: options.env ?? baseEnv(),
    clearEnv: true,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const out = await child.output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** The arguments that start backupd as `deno task backupd` does. */
export const BACKUPD = ["task", "-q", "backupd"];

/**
 * Runs `deno task backupd ARGS` from the repository root.
 */
export function backupd(args: string[], env: Record<string, string> = {}): Promise<Finished> {
  return run(Deno.execPath(), [...BACKUPD, ...args], { env: baseEnv(env) });
}

/**
 * Runs `deno task backupd now --source SOURCE --dest DEST ARGS`: one backup, as users make it.
 */
export function backupNow(
  source: string,
  dest: string,
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<Finished> {
  return backupd(["now", "--source", source, "--dest", dest, ...args], env);
}

/** A port on 127.0.0.1 that was free a moment ago: nothing listens there. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * Starts `deno task backupd ARGS` without waiting for it.
 */
export function spawnBackupd(args: string[], env: Record<string, string> = {}): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [...BACKUPD, ...args],
    cwd: ROOT,
    env: baseEnv(env),
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** A schedule that never fires in a test (once a year): a daemon's runs come from the test. */
export const NEVER = "0 0 1 1 *";

/** Starts `backupd run` on SOURCE and DEST on a schedule that never fires. */
export function spawnDaemon(
  source: string,
  dest: string,
  extra: string[] = [],
  env: Record<string, string> = {},
): Deno.ChildProcess {
  return spawnBackupd(
    ["run", "--source", source, "--dest", dest, "--schedule", NEVER, ...extra],
    env,
  );
}

/** The daemon's own pid (not `deno task`'s), from the daemon.json it writes in DEST. */
export async function daemonPid(dest: string): Promise<number> {
  return await waitFor("daemon.json", async () => {
    try {
      return JSON.parse(await Deno.readTextFile(`${dest}/.backupd/daemon.json`)).pid as number;
    } catch (err) {
      if (err instanceof Deno.errors.NotFound || err instanceof SyntaxError) return undefined;
      throw err;
    }
  });
}

/**
 * Polls `check` every 20 ms until it returns a value other than undefined, or fails
 * after `seconds`, even while a check is still waiting for its answer.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  seconds = 60,
): Promise<T> {
  const timedOut = new Error(`Timed out after ${seconds} s waiting for ${what}`);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timedOut), seconds * 1000);
  });
  try {
    while (true) {
      const value = await Promise.race([check(), deadline]);
      if (value !== undefined) return value;
      await Promise.race([new Promise((r) => setTimeout(r, 20)), deadline]);
    }
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The ids of a process's descendants, its children first, read from /proc: a test ends
 * only the processes it started (`deno task` runs backupd as its child).
 */
export function descendantsOf(pid: number): number[] {
  let children: number[] = [];
  try {
    for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
      const text = Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/children`);
      children = [...children, ...text.trim().split(/\s+/).filter((w) => w !== "").map(Number)];
    }
  } catch (err) {
    // Gone already: it has no descendants left.
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return children.flatMap((child) => [child, ...descendantsOf(child)]);
}

/** Every retention rule given as 0, which turns it off. */
export const EVERY_RULE_OFF = [
  "--keep-last",
  "0",
  "--keep-daily",
  "0",
  "--keep-weekly",
  "0",
  "--keep-monthly",
  "0",
];

/** A fresh temporary folder. */
export interface TempDir extends AsyncDisposable {
  path: string;
}

/** A fresh temporary folder, removed when disposed (`await using`). */
export async function tempDir(prefix = "backupd-test-"): Promise<TempDir> {
  const path = await Deno.makeTempDir({ prefix });
  return {
    path,
    [Symbol.asyncDispose]: async () => {
      // Tests may leave read-only mounts or odd modes behind; a leftover temp folder is harmless.
      await Deno.remove(path, { recursive: true }).catch(() => undefined);
    },
  };
}

/** Files under a folder, relative, recursively (for assertions on what DEST holds). */
export async function listFiles(dir: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(rel ? `${dir}/${rel}` : dir)) {
    const path = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory) out.push(`${path}/`, ...await listFiles(dir, path));
    else out.push(path);
  }
  return out.sort();
}

/** sha256 of a file, hex. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  using file = await Deno.open(path);
  for await (const chunk of file.readable) hash.update(chunk);
  return hash.digest("hex");
}

/** The one archive under DEST (fails when there is not exactly one). */
export async function onlyArchive(dest: string): Promise<string> {
  const archives = (await listFiles(dest)).filter((f) => /\.tar\.(gz|zst)(\.age)?$/.test(f));
  if (archives.length !== 1) throw new Error(`Expected one archive in ${dest}, found ${archives}`);
  return `${dest}/${archives[0]}`;
}

/** Whether this process runs as root. */
export function isRoot(): boolean {
  return Deno.uid() === 0;
}

/** Sends a signal to one process; refuses anything but a real pid (0 would hit the whole group). */
export function signalProcess(pid: number, signal: Deno.Signal): void {
  if (!Number.isSafeInteger(pid) || pid <= 1) throw new RangeError(`Cannot signal pid "${pid}"`);
  Deno.kill(pid, signal);
}

/** A copy of `bytes` with the byte in the middle inverted by `mask`. */
export function flipMiddleByte(bytes: Uint8Array, mask = 0xff): Uint8Array {
  const copy = bytes.slice();
  const i = Math.floor(copy.length / 2);
  copy[i] = (copy[i] ?? 0) ^ mask;
  return copy;
}

/** Writes `megabytes` MB of random bytes (which do not compress) to `path`, making its folder. */
export async function randomFile(path: string, megabytes: number): Promise<void> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  const dd = await run("dd", [
    "if=/dev/urandom",
    `of=${path}`,
    "bs=1000000",
    `count=${megabytes}`,
    "status=none",
  ]);
  if (dd.code !== 0) throw new Error(`Cannot write random bytes to "${path}": ${dd.stderr}`);
}

/** A TarOut that writes straight to a file (a plain .tar), for tests of the packer alone. */
export function fileTarOut(file: Deno.FsFile): BufferedTarOut {
  return bufferedTarOut(new Uint8Array(64 * 1024), (bytes) => {
    for (let at = 0; at < bytes.length;) at += file.writeSync(bytes.subarray(at));
  });
}

/** The notice of a run with nothing holding the data still (no --postgres, hook or container). */
export const UNQUIESCED = "WARN copying SOURCE unquiesced";

/** WARN lines of a run's log other than the unquiesced notice: what went wrong with files. */
export function fileWarnings(stderr: string): string[] {
  return stderr.split("\n").filter((line) => / WARN /.test(line) && !line.includes(UNQUIESCED));
}

/** An HTTP server on 127.0.0.1 that keeps each POSTed body: a `--notify` address. */
export function noticeReceiver(): { url: string; notices: string[]; close(): Promise<void> } {
  const notices: string[] = [];
  const port = freePort();
  const server = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, async (req) => {
    notices.push(await req.text());
    return new Response("ok");
  });
  return { url: `http://127.0.0.1:${port}/`, notices, close: () => server.shutdown() };
}

/** Resident kilobytes of a process (a field of /proc/PID/status), 0 when it is gone. */
export function statusKb(pid: number, field: "VmRSS" | "VmHWM"): number {
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/status`);
    return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? 0);
  } catch {
    return 0; // Gone already.
  }
}
