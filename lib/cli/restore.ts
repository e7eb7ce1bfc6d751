// `backupd restore`: an archive from DEST, a path or the bucket, checked and extracted
// safely into DIR.

import { basename, dirname, resolve } from "node:path";
import { ConfigError, EXIT, fsReason, RunError, UsageError } from "../base/errors.ts";
import { instantOf, isoInZone } from "../store/names.ts";
import { localStore } from "../store/local_store.ts";
import type { RemoteStore } from "../offsite/s3_store.ts";
import { parseS3Url } from "../offsite/s3_url.ts";
import { openBucket } from "../run/offsite_step.ts";
import { readWalCatalog } from "../postgres/wal_catalog.ts";
import { placeRecovery, planRecovery, type RecoveryTarget } from "../postgres/pitr.ts";
import { WalDamageError } from "../postgres/wal_read.ts";
import { formatLsn } from "../store/wal_names.ts";
import { restoreArchive } from "../read/restore.ts";
import { checkRestoreTarget } from "../read/restore_target.ts";
import type { Settings } from "../settings/settings.ts";
import { BUCKET_SETTINGS, type Command, type CommandContext, type CommandIo } from "./command.ts";
import {
  downloadArchive,
  existingDest,
  identitiesOf,
  locate,
  remoteArchiveAt,
} from "./find_archive.ts";

/**
 * `backupd restore ARCHIVE --to DIR [--include PATH...]`: exit 2 when an entry was refused,
 * 1 for warnings.
 */
export const restoreCommand: Command = {
  name: "restore",
  description:
    "extract an archive safely into DIR, which must not exist or be empty; --to-time: recover to a moment",
  settings: ["dest", "tz", "logFormat", ...BUCKET_SETTINGS, "ageIdentity"],
  operands: {
    spec: "[archive]",
    help:
      "archive path, name relative to DEST, or s3:// address; with --to-time: none (DEST) or s3://BUCKET/PREFIX",
  },
  options: {
    to: { flag: "--to <dir>", help: "folder to restore into", required: true },
    toTime: {
      flag: "--to-time <time>",
      help:
        'point-in-time recovery: "YYYY-MM-DD HH:MM:SS" (in TZ), ISO 8601 with an offset, or latest',
    },
    include: {
      flag: "--include <path>",
      help: "restore only this file or folder (a path below the archive's top folder); repeatable",
      repeatable: true,
    },
  },
  async run(ctx) {
    const name = ctx.operands[0] ?? "";
    const to = String(ctx.options.to ?? "");
    const include = (ctx.options.include ?? []) as string[];
    if (ctx.options.toTime !== undefined) {
      if (include.length > 0) throw new UsageError("Cannot use --include with --to-time");
      return await restoreToTime(ctx, name, String(ctx.options.toTime), to);
    }
    if (name === "") {
      throw new UsageError("Cannot restore: name the archive (or latest), or give --to-time");
    }
    if (name.startsWith("s3://")) return await restoreRemote(ctx.settings, name, to, ctx, include);
    const archive = await locate(resolve(ctx.settings.dest), name);
    return await restoreLocal(ctx.settings, archive, to, ctx, include);
  },
};

/**
 * Downloads an archive and its sidecar from the bucket into a hidden folder beside DIR,
 * restores from there (the sha256 is checked before anything is written), and removes them.
 */
async function restoreRemote(
  settings: Settings,
  url: string,
  to: string,
  io: CommandIo,
  include: readonly string[],
): Promise<number> {
  const { store, path } = await remoteArchiveAt(settings, url);
  const target = resolve(to);
  // A folder that cannot take the restore is refused before the download, not after.
  await checkRestoreTarget(target);
  let download: string;
  try {
    await Deno.mkdir(dirname(target), { recursive: true });
    download = await Deno.makeTempDir({
      dir: dirname(target),
      prefix: `.${basename(target)}.download-`,
    });
  } catch (err) {
    throw new RunError(`Cannot restore into "${target}": ${fsReason(err, target)}`, {
      cause: err,
    });
  }
  try {
    const started = io.now();
    // Hashed on the way to the disk, so the check before restoring does not read it again.
    const downloaded = await downloadArchive(store, path, download);
    const file = downloaded.file;
    io.log.info("download done", {
      archive: url,
      bytes: downloaded.bytes,
      seconds: Number(((io.now() - started) / 1000).toFixed(3)),
    });
    return await restoreLocal(settings, file, target, io, include, {
      label: url,
      sha256: downloaded.sha256,
    });
  } finally {
    await Deno.remove(download, { recursive: true });
  }
}

/**
 * `restore --to-time T --to DIR`: the plan is made and checked first (exit 2 naming the
 * bound or the missing segment, DIR untouched); then the base is restored as any archive
 * is, and the WAL and the recovery settings are put into it (README: Point-in-time
 * recovery).
 */
async function restoreToTime(
  ctx: CommandContext,
  operand: string,
  when: string,
  to: string,
): Promise<number> {
  const { settings } = ctx;
  const target = parseTargetTime(when, settings.tz, "--to-time");
  const remote = operand.startsWith("s3://") ? await bucketAt(settings, operand) : undefined;
  if (operand !== "" && !remote) {
    throw new UsageError(
      `Cannot use "${operand}" with --to-time: give no archive (DEST) or s3://BUCKET/PREFIX`,
    );
  }
  const dest = remote ? "" : await existingDest(settings, "recover to a point in time");
  const store = remote ?? localStore(dest);
  const dir = resolve(to);
  await checkRestoreTarget(dir);
  const existed = await Deno.stat(dir).then(() => true, () => false);
  try {
    return await recoverInto(ctx, store, remote, target, dest, to);
  } catch (err) {
    if (!(err instanceof WalDamageError)) throw err;
    // A problem in the backup: DIR is left as a failed restore leaves it, as it was found.
    await emptyFolder(dir, existed);
    ctx.log.error(err.message, { to: dir });
    return EXIT.warnings;
  }
}

/** Plans, restores the base, places and checks the WAL (README: Point-in-time recovery). */
async function recoverInto(
  ctx: CommandContext,
  store: RemoteStore | ReturnType<typeof localStore>,
  remote: RemoteStore | undefined,
  target: RecoveryTarget,
  dest: string,
  to: string,
): Promise<number> {
  const { settings } = ctx;
  const wal = store.wal();
  const catalog = await readWalCatalog(wal);
  const { identities = [] } = await identitiesOf(settings);
  const plan = await planRecovery(catalog, target, {
    store: wal,
    archives: new Set((await store.list()).map((a) => a.path)),
    identities,
    now: ctx.now(),
    timeZone: settings.tz,
  });
  ctx.log.info("point-in-time recovery planned", {
    base: store.url(plan.base.archive),
    timelines: plan.timelines.join(","),
    segments: plan.files.filter((f) => f.kind === "segment").length,
    partial: plan.partial?.wal ?? "none",
    stop_at: plan.stopAt === undefined ? "the end of the WAL" : isoInZone(plan.stopAt, settings.tz),
    wal_reaches: isoInZone(plan.reach, settings.tz),
  });
  const code = remote
    ? await restoreRemote(settings, remote.url(plan.base.archive), to, ctx, [])
    : await restoreLocal(settings, `${dest}/${plan.base.archive}`, to, ctx, []);
  if (code === EXIT.failed) return code;
  const placed = await placeRecovery(plan, resolve(to), {
    store: wal,
    identities,
    segmentBytes: catalog.segmentBytes,
    timeZone: settings.tz,
  });
  ctx.log.info("recovery is set up: start PostgreSQL on the folder and it replays, then opens", {
    to: resolve(to),
    wal_files: placed.files,
    records_checked: placed.chain.records,
    stop: "lsn" in placed.stop
      ? `after the last whole record at ${formatLsn(placed.stop.lsn)}`
      : "time" in placed.stop
      ? isoInZone(placed.stop.time, settings.tz)
      : "beforeXid" in placed.stop
      ? `just before transaction ${placed.stop.beforeXid}`
      : "where the base backup is consistent (no WAL stored after it yet)",
    last_commit: placed.chain.lastTime === undefined
      ? "none"
      : isoInZone(placed.chain.lastTime, settings.tz),
  });
  return code;
}

/** Removes what a restore put into `dir` (and `dir` itself when the restore made it). */
async function emptyFolder(dir: string, existed: boolean): Promise<void> {
  if (!existed) {
    await Deno.remove(dir, { recursive: true }).catch((err) => {
      // Refused while planning: nothing was made.
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    });
    return;
  }
  for await (const entry of Deno.readDir(dir)) {
    await Deno.remove(`${dir}/${entry.name}`, { recursive: true });
  }
}

/** The bucket at `s3://BUCKET/PREFIX`. */
export async function bucketAt(settings: Settings, url: string): Promise<RemoteStore> {
  return await openBucket(settings, parseS3Url(url, "the bucket"));
}

/**
 * Reads `--to-time`: `latest`, `YYYY-MM-DD HH:MM[:SS[.fff]]` in `timeZone`, ISO 8601 with
 * `Z` or an offset, or `before-xid:N` (just before that transaction's commit).
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(parseTargetTime("2026-12-03 14:05:00", "Europe/Berlin", "--to-time"), { time: Date.UTC(2026, 11, 3, 13, 5) });
 * assertEquals(parseTargetTime("2026-12-03T14:05:00.250Z", "UTC", "--to-time"), { time: Date.UTC(2026, 11, 3, 14, 5, 0, 250) });
 * assertEquals(parseTargetTime("latest", "UTC", "--to-time"), { latest: true });
 * assertEquals(parseTargetTime("before-xid:812", "UTC", "--to-time"), { beforeXid: 812 });
 * ```
 */
export function parseTargetTime(value: string, timeZone: string, from: string): RecoveryTarget {
  if (value.trim().toLowerCase() === "latest") return { latest: true };
  const xid = /^before-xid:(\d+)$/.exec(value.trim());
  if (xid) return { beforeXid: Number(xid[1]) };
  const local = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,3})?)?$/.exec(
    value.trim(),
  );
  if (local) {
    const ms = local[5] ? Math.round(Number(local[5]) * 1000) : 0;
    const time = instantOf(
      { day: local[1] as string, time: `${local[2]}-${local[3]}-${local[4] ?? "00"}` },
      timeZone,
    ) + ms;
    if (Number.isFinite(time)) return { time };
  } else if (/^\d{4}-\d{2}-\d{2}T.*(Z|[+-]\d{2}:?\d{2})$/.test(value.trim())) {
    const time = Date.parse(value.trim());
    if (Number.isFinite(time)) return { time };
  }
  throw new ConfigError(
    from,
    value,
    'expected "YYYY-MM-DD HH:MM:SS" (in TZ), ISO 8601 with an offset, latest, or before-xid:N',
  );
}

async function restoreLocal(
  settings: Settings,
  archive: string,
  to: string,
  io: CommandIo,
  include: readonly string[],
  download?: { label: string; sha256: string },
): Promise<number> {
  const shown = download?.label ?? archive;
  let noSidecar = false;
  const result = await restoreArchive(archive, resolve(to), {
    ...await identitiesOf(settings),
    ...download,
    ...(include.length > 0 ? { include } : {}),
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
  if (!io.isRoot) {
    // A database folder restored under the wrong owner does not start: say so once.
    io.log.warn(
      "owners not restored: not running as root, every file belongs to this user; run the restore as root to keep the archive's owners",
      { to: resolve(to) },
    );
  }
  if (result.refused.length > 0) return EXIT.failed;
  return noSidecar || result.skipped.length > 0 || !io.isRoot ? EXIT.warnings : EXIT.ok;
}
