// The commands that read DEST (or the bucket) and print to stdout: list, verify, restore,
// prune, health. Each takes resolved settings and its operands, and returns an exit code.

import { basename, dirname, resolve } from "node:path";
import { describeError, EXIT, fsReason, RunError, UsageError } from "../base/errors.ts";
import { assessHealth, type Health } from "../daemon/health.ts";
import { acquireLock } from "../store/lock.ts";
import type { Logger } from "../base/log.ts";
import { type ArchiveName, instantOf, parseArchiveName, sidecarName } from "../store/names.ts";
import { readIdentities } from "../codec/encryption.ts";
import { statIfPresent } from "../base/files.ts";
import { writePartial } from "../store/atomic_file.ts";
import { pruneRemote } from "../offsite/uploads.ts";
import type { RemoteStore } from "../offsite/s3_store.ts";
import { parseS3Url } from "../offsite/s3_url.ts";
import { hashStream, parseSidecar } from "../store/sidecar.ts";
import { formatBytes } from "../base/progress.ts";
import { hasRules, prune } from "../store/prune.ts";
import { checkRestoreTarget, restoreArchive } from "../read/restore.ts";
import { cronSlots } from "../daemon/schedule.ts";
import { stateDirOf } from "../store/state_file.ts";
import type { Settings } from "../settings/settings.ts";
import { readDaemonState, readLastRun } from "../store/run_status.ts";
import { listArchives } from "../store/local_store.ts";
import { verifyArchive, verifyBytes, type VerifyResult } from "../read/verify.ts";

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

/** The bucket of `--s3-url`, or a usage error saying it is needed for `what`. */
async function configuredRemote(settings: Settings, what: string): Promise<RemoteStore> {
  if (!settings.s3) {
    throw new UsageError(`Cannot ${what}: give --s3-url s3://BUCKET/PREFIX (or BACKUP_S3_URL)`);
  }
  const { openRemote } = await import("../offsite/s3_store.ts");
  return await openRemote(settings.s3Connection, settings.s3, {
    credentials: settings.s3Credentials,
  });
}

/** An archive named by `s3://BUCKET/PREFIX/YYYY-MM-DD/NAME`: its bucket and its path. */
async function remoteArchiveAt(
  settings: Settings,
  url: string,
): Promise<{ store: RemoteStore; path: string }> {
  const target = parseS3Url(url, "the archive");
  const parts = target.prefix.split("/");
  const archive = parts.length >= 2
    ? parseArchiveName(parts.at(-2) as string, parts.at(-1) as string)
    : undefined;
  if (!archive) {
    throw new UsageError(
      `Cannot find the archive "${url}": expected s3://BUCKET/PREFIX/YYYY-MM-DD/HH-MM-SS.tar.gz[.age]`,
    );
  }
  const { openRemote } = await import("../offsite/s3_store.ts");
  const store = await openRemote(settings.s3Connection, {
    bucket: target.bucket,
    prefix: parts.slice(0, -2).join("/"),
  }, { credentials: settings.s3Credentials });
  return { store, path: archive.path };
}

async function identitiesOf(settings: Settings): Promise<{ identities?: string[] }> {
  return settings.ageIdentityFile
    ? { identities: await readIdentities(settings.ageIdentityFile) }
    : {};
}

/**
 * `backupd list [--remote]`: archives under DEST (or in the bucket), newest first: name,
 * size, age.
 *
 * @example
 * ```ts
 * await commandList(settings, false, io); // prints "2027-01-02/01-00-00.tar.gz  12.3 MiB  2 h ago"
 * ```
 */
export async function commandList(
  settings: Settings,
  remote: boolean,
  io: CommandIo,
): Promise<number> {
  const dest = resolve(settings.dest);
  const sized = remote
    ? (await (await configuredRemote(settings, "list the bucket")).list()).reverse()
    : await Promise.all(
      (await archivesIn(dest)).reverse().map(async (a) => ({
        ...a,
        size: (await Deno.stat(`${dest}/${a.path}`)).size,
      })),
    );
  const rows = sized.map((a) => [
    a.path,
    formatBytes(a.size),
    formatAge(io.now() - instantOf(a, settings.tz)),
  ]);
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
    if ((await statIfPresent(candidate, { follow: true }))?.isFile) return candidate;
  }
  throw new UsageError(`Cannot find the archive "${name}" (as a path, or under "${dest}")`);
}

/** One archive to verify: how it is shown, and how to check it. */
interface VerifyJob {
  shown: string;
  check: () => Promise<VerifyResult>;
}

/** Streams an archive and its sidecar from the bucket through every check. */
function remoteJob(
  store: RemoteStore,
  path: string,
  identities: { identities?: string[] },
): VerifyJob {
  return {
    shown: store.url(path),
    check: async () => {
      const sidecar = parseSidecar(await store.getText(sidecarName(path)), basename(path));
      const body = await store.get(path);
      if (body === undefined) {
        return {
          ok: false,
          reason: "no such object in the bucket",
          hashChecked: false,
          contentChecked: false,
          entries: 0,
          bytes: 0,
        };
      }
      return await verifyBytes(path, body, {
        ...identities,
        sidecar,
        // After a read that stopped early, download it again to judge the hash.
        rehash: async () => await hashStream(await store.get(path) ?? ReadableStream.from([])),
      });
    },
  };
}

async function verifyJobs(
  settings: Settings,
  names: readonly string[],
  options: { all: boolean; remote: boolean },
  identities: { identities?: string[] },
): Promise<VerifyJob[]> {
  const dest = resolve(settings.dest);
  const local = (path: string): VerifyJob => ({
    shown: path.startsWith(`${dest}/`) ? path.slice(dest.length + 1) : path,
    check: () => verifyArchive(path, identities),
  });
  // Without names: the newest archive, or all of them newest first.
  const choose = <T>(archives: T[], where: string): T[] => {
    const chosen = options.all ? archives.reverse() : archives.slice(-1);
    if (chosen.length === 0) throw new RunError(`Cannot verify: no archive ${where}`);
    return chosen;
  };
  if (options.remote) {
    const store = await configuredRemote(settings, "verify the bucket's archives");
    if (names.length > 0) return names.map((name) => remoteJob(store, name, identities));
    return choose(await store.list(), `in "${store.url()}"`).map((a) =>
      remoteJob(store, a.path, identities)
    );
  }
  if (names.length > 0) {
    return await Promise.all(names.map(async (name) => {
      if (name.startsWith("s3://")) {
        const { store, path } = await remoteArchiveAt(settings, name);
        return remoteJob(store, path, identities);
      }
      return local(await locate(dest, name));
    }));
  }
  return choose(await archivesIn(dest), `under "${dest}"`).map((a) => local(`${dest}/${a.path}`));
}

/**
 * `backupd verify [ARCHIVE...] [--all] [--remote]`: one line per archive, exit 2 if any
 * fails. Archives are files, names under DEST, `s3://` addresses, or with `--remote` names
 * in the bucket.
 *
 * @example
 * ```ts
 * const code = await commandVerify(settings, ["2027-01-02/01-00-00.tar.gz"], {
 *   all: false,
 *   remote: false,
 * }, io);
 * ```
 */
export async function commandVerify(
  settings: Settings,
  names: readonly string[],
  options: { all: boolean; remote: boolean },
  io: CommandIo,
): Promise<number> {
  const identities = await identitiesOf(settings);
  let failed = 0;
  for (const job of await verifyJobs(settings, names, options, identities)) {
    const result = await job.check();
    if (!result.ok) {
      failed++;
      io.stdout(`FAILED ${job.shown}: ${result.reason}\n`);
      continue;
    }
    const hash = result.hashChecked
      ? "sha256 matches the sidecar"
      : "sha256 not checked: no sidecar";
    io.stdout(
      result.contentChecked
        ? `OK ${job.shown}: ${result.entries} entries, ${
          formatBytes(result.bytes)
        } of content, ${hash}\n`
        : `OK ${job.shown}: ${hash}; encrypted, content not checked (give --age-identity)\n`,
    );
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
  if (name.startsWith("s3://")) return await restoreRemote(settings, name, to, io);
  const archive = await locate(resolve(settings.dest), name);
  return await restoreLocal(settings, archive, to, io);
}

/**
 * Downloads an archive and its sidecar from the bucket into a hidden folder beside DIR,
 * restores from there (the sha256 is checked before anything is written), and removes them.
 */
async function restoreRemote(
  settings: Settings,
  url: string,
  to: string,
  io: CommandIo,
): Promise<number> {
  const { store, path } = await remoteArchiveAt(settings, url);
  const target = resolve(to);
  // A folder that cannot take the restore is refused before the download, not after.
  await checkRestoreTarget(target);
  await Deno.mkdir(dirname(target), { recursive: true });
  const download = await Deno.makeTempDir({
    dir: dirname(target),
    prefix: `.${basename(target)}.download-`,
  });
  try {
    const file = `${download}/${basename(path)}`;
    const started = io.now();
    const sidecar = await store.getText(sidecarName(path));
    if (sidecar !== undefined) await Deno.writeTextFile(sidecarName(file), sidecar);
    const body = await store.get(path);
    if (body === undefined) throw new RunError(`Cannot restore "${url}": no such object`);
    // Hashed on the way to the disk, so the check before restoring does not read it again.
    const downloaded = await writePartial(download, basename(path), body);
    await downloaded.commit();
    io.log.info("download done", {
      archive: url,
      bytes: downloaded.bytes,
      seconds: Number(((io.now() - started) / 1000).toFixed(3)),
    });
    return await restoreLocal(settings, file, target, io, {
      label: url,
      sha256: downloaded.sha256,
    });
  } finally {
    await Deno.remove(download, { recursive: true });
  }
}

async function restoreLocal(
  settings: Settings,
  archive: string,
  to: string,
  io: CommandIo,
  download?: { label: string; sha256: string },
): Promise<number> {
  const shown = download?.label ?? archive;
  let noSidecar = false;
  const result = await restoreArchive(archive, resolve(to), {
    ...await identitiesOf(settings),
    ...download,
    owners: io.isRoot,
    onRefused: (r) => io.log.warn("entry not restored", { name: r.name, reason: r.reason }),
    onLeftovers: (path) => io.log.info("removed the leftovers of an interrupted restore", { path }),
    onNoSidecar: () => {
      noSidecar = true;
      io.log.warn("no sidecar: the sha256 was not checked", { archive: shown });
    },
  });
  io.log.info("restore done", {
    archive: shown,
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
  if (!(await statIfPresent(dest, { follow: true }))?.isDirectory) {
    throw new RunError(`Cannot prune "${dest}": no such folder`);
  }
  // Pruning takes the lock so it never races a run that is writing or pruning.
  if (!dryRun) await Deno.mkdir(stateDirOf(dest), { recursive: true, mode: 0o700 });
  const lock = dryRun
    ? undefined
    : await acquireLock(stateDirOf(dest), `pid ${io.pid} (backupd prune)`);
  try {
    const plans = [{
      plan: await prune(dest, settings.keep, { dryRun }),
      shown: (path: string) => path,
      where: "",
    }];
    if (settings.s3) {
      const store = await configuredRemote(settings, "prune the bucket");
      plans.push({
        plan: await pruneRemote(store, settings.keep, { dryRun }),
        shown: (path) => store.url(path),
        where: ` in ${store.url()}`,
      });
    }
    for (const { plan, shown, where } of plans) {
      for (const path of plan.keep) {
        io.stdout(`keep   ${shown(path)}  (${plan.reasons.get(path)?.join(", ")})\n`);
      }
      for (const path of plan.remove) {
        io.stdout(`remove ${shown(path)}  (${plan.reasons.get(path)?.join(", ")})\n`);
      }
      io.stdout(
        dryRun
          ? `dry run${where}: would keep ${plan.keep.length} and remove ${plan.remove.length}; nothing was changed\n`
          : `kept ${plan.keep.length}, removed ${plan.remove.length}${where}\n`,
      );
    }
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
  const stateDir = stateDirOf(dest);
  let health: Health;
  try {
    const newest = (await archivesIn(dest)).at(-1);
    const daemon = await readDaemonState(stateDir);
    health = assessHealth({
      now: io.now(),
      slots: cronSlots(settings.schedule, settings.tz),
      lastRun: await readLastRun(stateDir),
      newestArchive: newest ? instantOf(newest, settings.tz) : undefined,
      daemonStarted: daemon ? Date.parse(daemon.started) : undefined,
    });
    // Runs that cannot write their result leave an old one behind that may still look good.
    const unwritable = health.healthy ? await notWritable(stateDir) : undefined;
    if (unwritable) {
      health = {
        healthy: false,
        reason: `runs cannot record their results: "${stateDir}" is not writable (${unwritable})`,
      };
    }
  } catch (err) {
    // health answers 0 or 1: a state it cannot read is a reason to be unhealthy.
    health = { healthy: false, reason: describeError(err) };
  }
  io.stdout(`${health.healthy ? "healthy" : "unhealthy"}: ${health.reason}\n`);
  return health.healthy ? EXIT.ok : 1;
}

/** Why a folder cannot be written to (read-only file system, full, permission denied), if so. */
async function notWritable(dir: string): Promise<string | undefined> {
  // A write tells: permission bits do not show a read-only mount, not to root at least.
  const probe = `${dir}/.health-probe-${Deno.pid}`;
  try {
    await Deno.writeFile(probe, new Uint8Array(0), { mode: 0o600 });
    await Deno.remove(probe);
    return undefined;
  } catch (err) {
    // No state folder yet: nothing has run, which assessHealth judges on its own.
    if (err instanceof Deno.errors.NotFound) return undefined;
    return fsReason(err);
  }
}
