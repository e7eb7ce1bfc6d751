// The load of the point-in-time recovery tests: a table of markers, one committed every
// 100 ms with its clock_timestamp(), each acknowledged with the client's clock; pgbench
// beside it; a CHECKPOINT every 0.5 s; and what a restored copy must hold of them.

import postgres from "postgres";
import { strictEqual } from "node:assert/strict";
import { asPostgres, type Cluster, cluster, mustRun, PASSWORD, PG_BIN } from "./local_pg.ts";
import {
  daemonPid,
  descendantsOf,
  listFiles,
  run,
  signalProcess,
  spawnDaemon,
  waitFor,
} from "../helpers.ts";

/** A marker the server acknowledged. */
export interface Marker {
  id: number;
  /** Its clock_timestamp() at insert, Unix ms (the commit follows within a millisecond). */
  at: number;
  /** When the client got the commit's acknowledgement, Unix ms. */
  acked: number;
}

/** A session on the cluster's Unix socket as postgres (trust). */
export function socketSql(db: Cluster): postgres.Sql {
  return postgres({
    path: `${db.sockets}/.s.PGSQL.${db.port}`,
    username: "postgres",
    database: "postgres",
    max: 1,
    onnotice: () => undefined,
    connect_timeout: 5,
  });
}

/** The markers' table, made once on a fresh cluster. */
export async function createMarkers(db: Cluster): Promise<void> {
  await db.psql("CREATE TABLE markers (id bigserial PRIMARY KEY, at timestamptz NOT NULL)");
}

/** Commits a marker every 100 ms until stopped or the server goes away. */
export function startMarkers(db: Cluster): { acks: Marker[]; stop: () => Promise<void> } {
  const sql = socketSql(db);
  const acks: Marker[] = [];
  let going = true;
  const loop = (async () => {
    while (going) {
      try {
        const [row] = await sql<{ id: string; at: string }[]>`
          INSERT INTO markers (at) VALUES (clock_timestamp())
          RETURNING id, (extract(epoch FROM at) * 1000)::float8 AS at`;
        acks.push({ id: Number(row?.id), at: Number(row?.at), acked: Date.now() });
      } catch {
        // The server stopped: what was acknowledged stands.
        going = false;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    acks,
    stop: async () => {
      going = false;
      await loop;
      await sql.end({ timeout: 1 }).catch(() => undefined);
    },
  };
}

/** A CHECKPOINT every 0.5 s until stopped or the server goes away; how many were made. */
export function startCheckpoints(db: Cluster): { stop: () => Promise<number> } {
  const sql = socketSql(db);
  let going = true;
  const loop = (async () => {
    let count = 0;
    while (going) {
      try {
        await sql`CHECKPOINT`;
        count++;
      } catch {
        going = false;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    return count;
  })();
  return {
    stop: async () => {
      going = false;
      const count = await loop;
      await sql.end({ timeout: 1 }).catch(() => undefined);
      return count;
    },
  };
}

/** A marker as `id@milliseconds`: ids alone repeat across timelines. */
export function markerKey(marker: Marker): string {
  return `${marker.id}@${Math.round(marker.at)}`;
}

/** The markers a restored copy holds, as {@linkcode markerKey}s. */
export async function markerKeys(db: Cluster): Promise<Set<string>> {
  const text = await db.psql(
    "SELECT id || '@' || round(extract(epoch FROM at) * 1000) FROM markers ORDER BY id",
  );
  return new Set(text.split("\n").filter((l) => l !== ""));
}

/** pgbench's invariant (every balance sum equals the history's deltas) and pg_amcheck. */
export async function checkConsistent(db: Cluster, what: string): Promise<void> {
  const sums = await db.psql(
    "SELECT (SELECT sum(abalance) FROM pgbench_accounts) || ',' || " +
      "(SELECT sum(tbalance) FROM pgbench_tellers) || ',' || " +
      "(SELECT sum(bbalance) FROM pgbench_branches) || ',' || " +
      "(SELECT coalesce(sum(delta), 0) FROM pgbench_history)",
  );
  const [accounts, tellers, branches, history] = sums.split(",").map(Number);
  strictEqual(accounts, history, `${what}: accounts ${accounts} != history ${history}`);
  strictEqual(tellers, history, `${what}: tellers ${tellers} != history ${history}`);
  strictEqual(branches, history, `${what}: branches ${branches} != history ${history}`);
  const amcheck = await run("runuser", [
    "-u",
    "postgres",
    "--",
    `${PG_BIN}/pg_amcheck`,
    ...db.socketArgs,
    "--all",
    "--heapallindexed",
    "--install-missing",
  ]);
  strictEqual(amcheck.code, 0, `${what}: pg_amcheck: ${amcheck.stdout}${amcheck.stderr}`);
}

/** pgbench's tables at `scale`, made on the cluster. */
export async function pgbenchInit(db: Cluster, scale: number): Promise<void> {
  await mustRun(
    asPostgres("pgbench", ...db.socketArgs, "-i", "-q", "-s", String(scale), "postgres"),
    "pgbench -i",
  );
}

/** Stops a server at once, as a power cut would. */
export async function crash(db: Cluster): Promise<void> {
  await mustRun(asPostgres("pg_ctl", "-D", db.data, "-m", "immediate", "-w", "stop"), "crash");
}

/**
 * A daemon archiving WAL of `db` into `dest`: its pid once it runs, and how to stop it.
 * Disposing it stops it when the test did not (a failed assertion leaves no daemon behind).
 */
export interface WalDaemon extends AsyncDisposable {
  pid: number;
  child: Deno.ChildProcess;
  /** SIGTERM; asserts exit 0 and returns the log. */
  stop(): Promise<string>;
}

/** Starts the daemon on `db` into `dest` with `--wal-interval`, in UTC, and `extra`. */
export async function walDaemon(
  db: Cluster,
  dest: string,
  { interval, extra = [], env = {} }: {
    interval: string;
    extra?: string[];
    env?: Record<string, string>;
  },
): Promise<WalDaemon> {
  const child = spawnDaemon(db.data, dest, [
    "--postgres",
    db.url,
    "--wal-interval",
    interval,
    "--tz",
    "UTC",
    ...extra,
  ], { PGPASSWORD: PASSWORD, ...env });
  // DEST may hold an earlier daemon's daemon.json: wait for this one's.
  const pid = await waitFor("this daemon's daemon.json", async () => {
    const pid = await daemonPid(dest);
    return descendantsOf(child.pid).includes(pid) ? pid : undefined;
  });
  let ended: Promise<Deno.CommandOutput> | undefined;
  const end = (signal: Deno.Signal) => {
    if (!ended) {
      try {
        signalProcess(pid, signal);
      } catch {
        // Gone already (killed by the test).
      }
      ended = child.output();
    }
    return ended;
  };
  return {
    pid,
    child,
    stop: async () => {
      const out = await end("SIGTERM");
      const stderr = new TextDecoder().decode(out.stderr);
      strictEqual(out.code, 0, stderr);
      return stderr;
    },
    [Symbol.asyncDispose]: async () => {
      await end("SIGTERM").catch(() => undefined);
    },
  };
}

/** What the daemon recorded in DEST/.backupd/wal.json. */
export async function walState(dest: string) {
  return JSON.parse(await Deno.readTextFile(`${dest}/.backupd/wal.json`));
}

/** Waits until the daemon has stored all the WAL flushed after `since`. */
export async function caughtUpAfter(dest: string, since: number, seconds = 60): Promise<void> {
  await waitFor("WAL archiving to catch up", async () => {
    try {
      return Date.parse((await walState(dest)).caughtUp ?? 0) > since + 100 || undefined;
    } catch {
      return undefined;
    }
  }, seconds);
}

/** Starts a server on a restored folder and waits until its recovery has ended. */
export async function startRecovered(work: string, folder: string): Promise<Cluster> {
  const copy = await cluster(work, folder);
  try {
    await copy.start();
  } catch (err) {
    // The server's own words say why it did not start.
    const log = await Deno.readTextFile(`${folder}.log`).catch(() => "(no log)");
    throw new Error(`${(err as Error).message}\n${log.split("\n").slice(-15).join("\n")}`);
  }
  try {
    // pg_ctl returns once the server takes read-only connections; recovery may still run.
    await waitFor(
      "the end of recovery",
      async () => await copy.psql("SELECT pg_is_in_recovery()") === "f" || undefined,
      600,
    );
  } catch (err) {
    await copy.stop();
    throw err;
  }
  return copy;
}

/**
 * A fresh cluster in `work` (made with --data-checksums) with pgbench's tables at `scale`
 * and the markers' table, started.
 */
export async function loadedCluster(work: string, scale: number): Promise<Cluster> {
  await Deno.chmod(work, 0o755);
  const db = await cluster(work, `${work}/pgdata`, { checksums: true });
  await db.start();
  await pgbenchInit(db, scale);
  await createMarkers(db);
  return db;
}

/** Waits until DEST/wal holds `count` base backups' records. */
export async function baseRecorded(dest: string, count = 1): Promise<void> {
  await waitFor(
    "a base backup's record",
    async () =>
      (await listFiles(dest)).filter((f) => /^wal\/.*\.backup$/.test(f)).length >= count ||
      undefined,
    120,
  );
}
