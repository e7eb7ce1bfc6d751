// The commands that read DEST and print to stdout: list, verify, restore, prune, health.
// Each takes resolved settings and its operands, and returns an exit code.

import { resolve } from "node:path";
import { EXIT, RunError, UsageError } from "./errors.ts";
import { assessHealth } from "./health.ts";
import { acquireLock } from "./lock.ts";
import type { Logger } from "./log.ts";
import { type ArchiveName, instantOf } from "./names.ts";
import { formatBytes } from "./progress.ts";
import { hasRules, prune } from "./prune.ts";
import { restoreArchive } from "./restore.ts";
import { cronSlots } from "./schedule.ts";
import type { Settings } from "./settings.ts";
import { readDaemonState, readLastRun } from "./status.ts";
import { listArchives } from "./store.ts";
import { verifyArchive } from "./verify.ts";

/** What these commands need from the process. */
export interface CommandIo {
  stdout: (text: string) => void;
  now: () => number;
  log: Logger;
  /** Whether this process runs as root (restore then restores owners). */
  isRoot: boolean;
  pid: number;
}

async function archivesIn(dest: string): Promise<ArchiveName[]> {
  try {
    return await listArchives(dest);
  } catch (err) {
    // No DEST yet means no archives, not an error.
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
}

/**
 * How long ago, in the largest fitting unit.
 *
 * @example
 * ```ts
 * formatAge(90 * 60_000); // "1 h ago"
 * ```
 */
export function formatAge(ms: number): string {
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 1) return "just now";
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.floor(hours / 24)} days ago`;
}

/**
 * `backupd list`: archives under DEST, newest first: name, size, age.
 *
 * @example
 * ```ts
 * await commandList(settings, io); // prints "2027-01-02/01-00-00.tar.gz  12.3 MiB  2 h ago"
 * ```
 */
export async function commandList(settings: Settings, io: CommandIo): Promise<number> {
  const dest = resolve(settings.dest);
  const archives = (await archivesIn(dest)).reverse();
  const rows = await Promise.all(archives.map(async (a) => {
    const size = (await Deno.stat(`${dest}/${a.path}`)).size;
    return [a.path, formatBytes(size), formatAge(io.now() - instantOf(a, settings.tz))];
  }));
  const width = Math.max(0, ...rows.map((r) => (r[0] ?? "").length));
  const sizeWidth = Math.max(0, ...rows.map((r) => (r[1] ?? "").length));
  for (const [path, size, age] of rows) {
    io.stdout(`${(path ?? "").padEnd(width)}  ${(size ?? "").padStart(sizeWidth)}  ${age}\n`);
  }
  return EXIT.ok;
}

/** Finds an archive named on the command line: a path, or a name relative to DEST. */
async function locate(dest: string, name: string): Promise<string> {
  for (const candidate of [resolve(name), `${dest}/${name}`]) {
    try {
      if ((await Deno.stat(candidate)).isFile) return candidate;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
      // Not here; try the next place.
    }
  }
  throw new UsageError(`Cannot find the archive "${name}" (as a path, or under "${dest}")`);
}

/**
 * `backupd verify [ARCHIVE...] [--all]`: one line per archive, exit 2 if any fails.
 *
 * @example
 * ```ts
 * const code = await commandVerify(settings, ["2027-01-02/01-00-00.tar.gz"], false, io);
 * ```
 */
export async function commandVerify(
  settings: Settings,
  names: readonly string[],
  all: boolean,
  io: CommandIo,
): Promise<number> {
  const dest = resolve(settings.dest);
  let paths: string[];
  if (names.length > 0) paths = await Promise.all(names.map((n) => locate(dest, n)));
  else {
    const archives = await archivesIn(dest);
    const chosen = all ? archives.reverse() : archives.slice(-1);
    if (chosen.length === 0) throw new RunError(`Cannot verify: no archive under "${dest}"`);
    paths = chosen.map((a) => `${dest}/${a.path}`);
  }
  let failed = 0;
  for (const path of paths) {
    const shown = path.startsWith(`${dest}/`) ? path.slice(dest.length + 1) : path;
    const result = await verifyArchive(path);
    if (result.ok) {
      const hash = result.hashChecked
        ? "sha256 matches the sidecar"
        : "sha256 not checked: no sidecar";
      io.stdout(
        `OK ${shown}: ${result.entries} entries, ${
          formatBytes(result.bytes)
        } of content, ${hash}\n`,
      );
    } else {
      failed++;
      io.stdout(`FAILED ${shown}: ${result.reason}\n`);
    }
  }
  return failed > 0 ? EXIT.failed : EXIT.ok;
}

/**
 * `backupd restore ARCHIVE --to DIR`: exit 2 when an entry was refused, 1 for warnings.
 *
 * @example
 * ```ts
 * const code = await commandRestore(settings, "2027-01-02/01-00-00.tar.gz", "/srv/restored", io);
 * ```
 */
export async function commandRestore(
  settings: Settings,
  name: string,
  to: string,
  io: CommandIo,
): Promise<number> {
  const archive = await locate(resolve(settings.dest), name);
  let noSidecar = false;
  const result = await restoreArchive(archive, resolve(to), {
    owners: io.isRoot,
    onRefused: (r) => io.log.warn("entry not restored", { name: r.name, reason: r.reason }),
    onNoSidecar: () => {
      noSidecar = true;
      io.log.warn("no sidecar: the sha256 was not checked", { archive });
    },
  });
  io.log.info("restore done", {
    archive,
    to: resolve(to),
    restored: result.restored,
    refused: result.refused.length,
    skipped: result.skipped.length,
  });
  if (result.refused.length > 0) return EXIT.failed;
  return noSidecar || result.skipped.length > 0 ? EXIT.warnings : EXIT.ok;
}

/**
 * `backupd prune [--dry-run]`: prints the plan, and carries it out unless a dry run.
 *
 * @example
 * ```ts
 * await commandPrune(settings, true, io); // "keep   2027-01-02/01-00-00.tar.gz  (newest, ...)"
 * ```
 */
export async function commandPrune(
  settings: Settings,
  dryRun: boolean,
  io: CommandIo,
): Promise<number> {
  const dest = resolve(settings.dest);
  if (!hasRules(settings.keep)) {
    io.stdout(
      "no retention rule is set (--keep-last, --keep-daily, --keep-weekly, --keep-monthly): nothing to do\n",
    );
    return EXIT.ok;
  }
  const exists = await Deno.stat(dest).then((info) => info.isDirectory, (err) => {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  });
  if (!exists) throw new RunError(`Cannot prune "${dest}": no such folder`);
  // Pruning takes the lock so it never races a run that is writing or pruning.
  if (!dryRun) await Deno.mkdir(`${dest}/.backupd`, { recursive: true, mode: 0o700 });
  const lock = dryRun
    ? undefined
    : await acquireLock(`${dest}/.backupd`, `pid ${io.pid} (backupd prune)`);
  try {
    const plan = await prune(dest, settings.keep, { dryRun });
    for (const path of plan.keep) {
      io.stdout(`keep   ${path}  (${plan.reasons.get(path)?.join(", ")})\n`);
    }
    for (const path of plan.remove) {
      io.stdout(`remove ${path}  (${plan.reasons.get(path)?.join(", ")})\n`);
    }
    io.stdout(
      dryRun
        ? `dry run: would keep ${plan.keep.length} and remove ${plan.remove.length}; nothing was changed\n`
        : `kept ${plan.keep.length}, removed ${plan.remove.length}\n`,
    );
    return EXIT.ok;
  } finally {
    lock?.release();
  }
}

/**
 * `backupd health`: one line, exit 0 when backups are current, else 1.
 *
 * @example
 * ```ts
 * const code = await commandHealth(settings, io); // prints "healthy: ..." or "unhealthy: ..."
 * ```
 */
export async function commandHealth(settings: Settings, io: CommandIo): Promise<number> {
  const dest = resolve(settings.dest);
  const stateDir = `${dest}/.backupd`;
  const newest = (await archivesIn(dest)).at(-1);
  const daemon = await readDaemonState(stateDir);
  const health = assessHealth({
    now: io.now(),
    slots: cronSlots(settings.schedule, settings.tz),
    lastRun: await readLastRun(stateDir),
    newestArchive: newest ? instantOf(newest, settings.tz) : undefined,
    daemonStarted: daemon ? Date.parse(daemon.started) : undefined,
  });
  io.stdout(`${health.healthy ? "healthy" : "unhealthy"}: ${health.reason}\n`);
  return health.healthy ? EXIT.ok : 1;
}
