// Local PostgreSQL 15 clusters for the tests, from the server programs on the machine, run
// as the postgres user on a Unix socket (trust) and on 127.0.0.1 (SCRAM password).

import { strictEqual } from "node:assert/strict";
import { freePort, run } from "../helpers.ts";

/** Where Debian's postgresql-15 puts the server programs. */
export const PG_BIN = "/usr/lib/postgresql/15/bin";

/** The superuser's password for connections over TCP. */
export const PASSWORD = "backupd-test-pw";

/** A command run as the postgres user. */
export function asPostgres(program: string, ...args: string[]): string[] {
  return ["runuser", "-u", "postgres", "--", `${PG_BIN}/${program}`, ...args];
}

/** Runs a command that must succeed; returns its stdout. */
export async function mustRun(args: string[], what: string): Promise<string> {
  const [cmd, ...rest] = args;
  const result = await run(cmd as string, rest);
  strictEqual(result.code, 0, `${what}: ${result.stdout}${result.stderr}`);
  return result.stdout;
}

/** A data folder with its server's address; `start` and `stop` run pg_ctl. */
export interface Cluster {
  /** The data folder. */
  data: string;
  /** Its server's port (TCP on 127.0.0.1, and the Unix socket in `sockets`). */
  port: number;
  /** The folder of the Unix socket. */
  sockets: string;
  /** `postgres://postgres@127.0.0.1:PORT/postgres`, without the password. */
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The command words of `start` and `stop`, for hooks. */
  startWords: string[];
  stopWords: string[];
  /** psql over the socket as postgres: unaligned tuples only, stops at the first error. */
  psql(sql: string): Promise<string>;
  /** The arguments that reach this server over its socket, for pgbench and pg_amcheck. */
  socketArgs: string[];
}

/**
 * A cluster on `data` (made by initdb when `init` is given); its socket folder is made in
 * `work`, which must be readable by the postgres user.
 */
export async function cluster(
  work: string,
  data: string,
  init?: { checksums?: boolean },
): Promise<Cluster> {
  const sockets = `${work}/sockets`;
  await Deno.mkdir(sockets, { recursive: true });
  await mustRun(["chown", "postgres:", sockets, work], "chown");
  if (init) {
    const pwfile = `${work}/pwfile`;
    await Deno.writeTextFile(pwfile, `${PASSWORD}\n`);
    await mustRun(["chown", "postgres:", pwfile], "chown");
    await mustRun(
      asPostgres(
        "initdb",
        "-D",
        data,
        "-U",
        "postgres",
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        `--pwfile=${pwfile}`,
        ...(init.checksums ? ["--data-checksums"] : []),
      ),
      "initdb",
    );
  }
  const port = freePort();
  const socketArgs = ["-h", sockets, "-p", String(port)];
  const startWords = asPostgres(
    "pg_ctl",
    "-D",
    data,
    "-l",
    `${data}.log`,
    "-w",
    "-t",
    "120",
    "-o",
    `-k ${sockets} -p ${port} -c listen_addresses=127.0.0.1`,
    "start",
  );
  const stopWords = asPostgres("pg_ctl", "-D", data, "-m", "fast", "-w", "stop");
  return {
    data,
    port,
    sockets,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    socketArgs,
    startWords,
    stopWords,
    start: async () => {
      await mustRun(startWords, `starting PostgreSQL on ${data}`);
    },
    stop: async () => {
      await run(stopWords[0] as string, stopWords.slice(1));
    },
    psql: async (sql) =>
      (await mustRun(
        asPostgres(
          "psql",
          ...socketArgs,
          "-d",
          "postgres",
          "-v",
          "ON_ERROR_STOP=1",
          "-tA",
          "-c",
          sql,
        ),
        `psql: ${sql}`,
      )).trim(),
  };
}

/**
 * Starts `pgbench -c 4 -j 2` on the cluster's socket for up to an hour (`-n`: no vacuum
 * first), with `extra` options; stop it with SIGTERM (runuser passes that one on).
 */
export function startPgbench(db: Cluster, extra: string[] = []): Deno.ChildProcess {
  return new Deno.Command("runuser", {
    args: [
      "-u",
      "postgres",
      "--",
      `${PG_BIN}/pgbench`,
      ...db.socketArgs,
      "-c",
      "4",
      "-j",
      "2",
      "-T",
      "3600",
      "-n",
      ...extra,
      "postgres",
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
}
