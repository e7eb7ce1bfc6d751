// PostgreSQL run on a scratch restore (README: Restore drills): its programs run as the
// restored data's owner (never root), the server with no TCP listener and its Unix socket,
// log and configuration in the scratch folder, each step abandoned on SIGTERM.

import { lchownSync } from "node:fs";
import { RunError } from "../base/errors.ts";
import type { PgPrograms } from "../postgres/pg_programs.ts";

/** One check's outcome. */
export interface CheckOutcome {
  /** The query. */
  sql: string;
  /** Whether its first value was true. */
  ok: boolean;
  /** The database it ran in. */
  database: string;
  /** What it answered: its first value, NULL, no row, or an error. */
  answer: string;
}

/** The user the server runs as. */
export interface Owner {
  /** Its user id. */
  uid: number;
  /** Its group id. */
  gid: number;
}

/**
 * A step found a problem in the backup itself (a drill's exit 1): the restored folder does
 * not verify, its server does not start, amcheck finds damage. Not a run that could not run.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(new ScratchProblem("pg_amcheck found a problem").name, "ScratchProblem");
 * ```
 */
export class ScratchProblem extends RunError {}

const PORT = "5432";

async function idOf(user: string, flag: "-u" | "-g"): Promise<number | undefined> {
  const out = await new Deno.Command("id", { args: [flag, user], stdout: "piped", stderr: "null" })
    .output().catch(() => undefined);
  return out?.success ? Number(new TextDecoder().decode(out.stdout).trim()) : undefined;
}

/**
 * Whom the server runs as: the restored data's owner, or (as root, for data owned by root)
 * the `postgres` user, which then gets the folder; this process's user when not root.
 *
 * @example
 * ```ts ignore
 * const owner = await ownerOf("/tmp/backupd-drill-x/data", true); // { uid: 999, gid: 999 }
 * ```
 */
export async function ownerOf(data: string, isRoot: boolean): Promise<Owner | undefined> {
  if (!isRoot) return undefined;
  const info = await Deno.stat(`${data}/PG_VERSION`);
  if (info.uid !== null && info.uid !== 0) return { uid: info.uid, gid: info.gid ?? info.uid };
  const uid = await idOf("postgres", "-u");
  const gid = await idOf("postgres", "-g");
  if (uid === undefined || gid === undefined || uid === 0) {
    throw new RunError(
      "Cannot run the restore drill: the data belongs to root and there is no postgres user to run PostgreSQL as",
    );
  }
  await chownTree(data, { uid, gid });
  return { uid, gid };
}

async function chownTree(path: string, owner: Owner): Promise<void> {
  lchownSync(path, owner.uid, owner.gid);
  const info = await Deno.lstat(path);
  if (!info.isDirectory) return;
  for await (const entry of Deno.readDir(path)) await chownTree(`${path}/${entry.name}`, owner);
}

/**
 * psql's arguments for one query in `database`: no psqlrc, unaligned tuples only, stop at
 * the first error.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(psqlArgs("shop", "SELECT 1").slice(-2), ["-c", "SELECT 1"]);
 * ```
 */
export function psqlArgs(database: string, sql: string): string[] {
  return ["-d", database, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql];
}

/** One command's end. */
interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** The server of one drill, and the programs that check it. */
export class PgProcess {
  /** The restored data folder. */
  readonly data: string;
  readonly #run: string;
  readonly #programs: PgPrograms;
  readonly #owner: Owner | undefined;
  readonly #signal: AbortSignal | undefined;
  #started = false;

  /** The programs of `programs`, on `scratch/data`, as `owner`, abandoned on `signal`. */
  constructor(
    programs: PgPrograms,
    scratch: string,
    owner: Owner | undefined,
    signal: AbortSignal | undefined,
  ) {
    this.data = `${scratch}/data`;
    this.#run = `${scratch}/run`;
    this.#programs = programs;
    this.#owner = owner;
    this.#signal = signal;
  }

  async #exec(
    program: string,
    args: string[],
    { stoppable = true, env = {} }: { stoppable?: boolean; env?: Record<string, string> } = {},
  ): Promise<Ran> {
    if (stoppable && this.#signal?.aborted) throw this.#signal.reason;
    const path = `${this.#programs.bin}/${program}`;
    const [cmd, ...rest] = this.#owner
      ? [
        "setpriv",
        `--reuid=${this.#owner.uid}`,
        `--regid=${this.#owner.gid}`,
        "--clear-groups",
        "--",
        path,
        ...args,
      ]
      : [path, ...args];
    const out = await new Deno.Command(cmd as string, {
      args: rest,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { LC_ALL: "C", PGCONNECT_TIMEOUT: "30", ...env },
      ...(stoppable && this.#signal ? { signal: this.#signal } : {}),
    }).output();
    if (stoppable && this.#signal?.aborted) throw this.#signal.reason;
    const decode = (b: Uint8Array) => new TextDecoder().decode(b).trim();
    return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
  }

  /** pg_verifybackup on the restored folder; a mismatch is a `ScratchProblem` naming it. */
  async verifyBackup(): Promise<void> {
    const out = await this.#exec("pg_verifybackup", [this.data]);
    if (out.code !== 0) {
      throw new ScratchProblem(
        `pg_verifybackup failed: ${
          firstLines(out.stderr || out.stdout).replace(/^pg_verifybackup: error: /, "")
        }`,
      );
    }
  }

  /** Starts the server and returns once recovery has ended and it accepts writes. */
  async start(): Promise<void> {
    await Deno.mkdir(this.#run, { mode: 0o700 });
    await Deno.writeTextFile(`${this.#run}/pg_hba.conf`, "local all all trust\n");
    await Deno.writeTextFile(`${this.#run}/pg_ident.conf`, "");
    // A host cluster keeps its configuration elsewhere (Debian: /etc/postgresql).
    const conf = `${this.data}/postgresql.conf`;
    if (!(await Deno.stat(conf).then(() => true, () => false))) await Deno.writeTextFile(conf, "");
    if (this.#owner) {
      for (
        const path of [this.#run, `${this.#run}/pg_hba.conf`, `${this.#run}/pg_ident.conf`, conf]
      ) {
        await Deno.chown(path, this.#owner.uid, this.#owner.gid);
      }
    }
    const options = [
      "-c listen_addresses=''",
      `-c 'unix_socket_directories=${this.#run}'`,
      `-c port=${PORT}`,
      "-c archive_mode=off",
      "-c shared_buffers=32MB",
      "-c max_connections=20",
      // Read-only connections during recovery would let pg_ctl return before it ends.
      "-c hot_standby=off",
      "-c logging_collector=off",
      `-c 'hba_file=${this.#run}/pg_hba.conf'`,
      `-c 'ident_file=${this.#run}/pg_ident.conf'`,
    ].join(" ");
    this.#started = true;
    const out = await this.#exec("pg_ctl", [
      "-D",
      this.data,
      "-l",
      `${this.#run}/server.log`,
      "-w",
      "-t",
      "86400",
      "-o",
      options,
      "start",
    ]);
    if (out.code !== 0) throw await this.#notStarted(firstLines(out.stderr));
    // pg_ctl returns at "standby" too, before recovery ends: wait until connections are taken.
    for (;;) {
      const ready = await this.#exec("pg_isready", ["-q", "-h", this.#run, "-p", PORT]);
      if (ready.code === 0) return;
      if (!(await PgProcess.#running(this.data))) throw await this.#notStarted("it stopped");
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Why the server did not start, from its log. */
  async #notStarted(fallback: string): Promise<ScratchProblem> {
    const log = await Deno.readTextFile(`${this.#run}/server.log`).catch(() => "");
    const fatal = log.split("\n").filter((l) => / (FATAL|PANIC|ERROR): /.test(l)).slice(-2);
    return new ScratchProblem(
      `PostgreSQL did not start on the restored folder: ${
        fatal.join(" ").replace(/^.*?(FATAL|PANIC|ERROR): /, "") || fallback
      }`,
    );
  }

  /** The arguments that reach the server over its socket as `user`. */
  #reach(user: string): string[] {
    return ["-h", this.#run, "-p", PORT, "-U", user];
  }

  /** pg_amcheck of every database, heap and index; a problem is a `ScratchProblem` naming it. */
  async amcheck(user: string): Promise<void> {
    const out = await this.#exec("pg_amcheck", [
      ...this.#reach(user),
      "--all",
      "--heapallindexed",
      "--install-missing",
    ]);
    if (out.code !== 0) {
      throw new ScratchProblem(
        `pg_amcheck found a problem: ${firstLines(out.stdout || out.stderr)}`,
      );
    }
  }

  /** One check: its one row's first value must be true. */
  async check(user: string, database: string, sql: string): Promise<CheckOutcome> {
    // NULL printed as a word: an empty answer would read as no row.
    const out = await this.#exec("psql", [
      ...this.#reach(user),
      ...psqlArgs(database, sql),
      "-P",
      "null=NULL",
    ]);
    if (out.code !== 0) {
      const error = firstLines(out.stderr).replace(/^psql:[^:]*: /, "");
      return { sql, database, ok: false, answer: `an error (${error})` };
    }
    const first = out.stdout.split("\n")[0]?.split("|")[0] ?? "";
    const answer = out.stdout === "" ? "no row" : first;
    return { sql, database, ok: first === "t", answer };
  }

  /**
   * A query's rows (`|`-separated columns) in `database` as `user`; an error is thrown as a
   * `RunError` with psql's first line.
   */
  async query(user: string, database: string, sql: string): Promise<string[][]> {
    const out = await this.#exec("psql", [...this.#reach(user), ...psqlArgs(database, sql)]);
    if (out.code !== 0) {
      throw new RunError(
        `Cannot query the restored server: ${firstLines(out.stderr).replace(/^psql:[^:]*: /, "")}`,
      );
    }
    return out.stdout === "" ? [] : out.stdout.split("\n").map((line) => line.split("|"));
  }

  /**
   * Runs one of the programs (pg_dump, pg_dumpall) against the server as `user`, with
   * `args` after the connection's; a failure is a `RunError` with its first lines. Its
   * output file must be in {@linkcode PgProcess.outputs}, which the server's user owns.
   */
  async runProgram(program: string, user: string, args: readonly string[]): Promise<void> {
    const out = await this.#exec(program, [...this.#reach(user), ...args]);
    if (out.code !== 0) {
      throw new RunError(`${program} failed on the restored server: ${firstLines(out.stderr)}`);
    }
  }

  /**
   * Runs a client program (psql, pg_restore) of the same major against another server, as
   * the server's user, with `env` added (PGPASSFILE: never a password on a command line);
   * its stdout, or a `RunError` with its first lines.
   */
  async runClient(
    program: string,
    args: readonly string[],
    env: Record<string, string>,
  ): Promise<string> {
    const out = await this.#exec(program, [...args], { env });
    if (out.code !== 0) {
      throw new RunError(`${program} failed: ${firstLines(out.stderr || out.stdout)}`);
    }
    return out.stdout;
  }

  /** A folder inside the scratch folder that the server's user may write (once started). */
  get outputs(): string {
    return this.#run;
  }

  /** Writes a file only the server's user may read (a password file for a client). */
  async writePrivate(name: string, text: string): Promise<string> {
    const path = `${this.#run}/${name}`;
    await Deno.writeTextFile(path, text, { mode: 0o600 });
    if (this.#owner) await Deno.chown(path, this.#owner.uid, this.#owner.gid);
    return path;
  }

  /** Stops the server, if it was started: fast, else at once. Never abandoned. */
  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    const fast = await this.#exec("pg_ctl", [
      "-D",
      this.data,
      "-m",
      "fast",
      "-w",
      "-t",
      "60",
      "stop",
    ], {
      stoppable: false,
    });
    if (fast.code === 0 || !(await PgProcess.#running(this.data))) return;
    await this.#exec("pg_ctl", ["-D", this.data, "-m", "immediate", "-w", "stop"], {
      stoppable: false,
    });
  }

  static async #running(data: string): Promise<number | undefined> {
    const text = await Deno.readTextFile(`${data}/postmaster.pid`).catch(() => "");
    const pid = Number(text.split("\n")[0]);
    if (!(pid > 0)) return undefined;
    try {
      Deno.kill(pid, "SIGCONT");
      return pid;
    } catch {
      return undefined;
    }
  }

  /** A killed drill's server, if still running, stopped at once (SIGQUIT) and waited for. */
  static async stopLeftover(scratch: string): Promise<void> {
    const pid = await PgProcess.#running(`${scratch}/data`);
    if (pid === undefined) return;
    Deno.kill(pid, "SIGQUIT");
    for (let i = 0; i < 300 && await PgProcess.#running(`${scratch}/data`); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** The first two lines of a program's message, joined. */
function firstLines(text: string): string {
  return text.split("\n").filter((l) => l.trim() !== "").slice(0, 2).join(" ").trim();
}
