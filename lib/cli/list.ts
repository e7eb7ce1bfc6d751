// `backupd list`: archives under DEST (or in the bucket), newest first: name, size, age,
// kind and where copies are, under a header and over a count; or as JSON.

import { describeError, EXIT } from "../base/errors.ts";
import { compressionOfName, instantOf, isEncryptedName, isoInZone } from "../store/names.ts";
import { asTheDaemonRuns, takenNote } from "./daemon_view.ts";
import { formatBytes } from "../base/bytes.ts";
import type { Logger } from "../base/log.ts";
import type { ArchiveStore } from "../store/archive_store.ts";
import { BUCKET_SETTINGS, type Command, KEEP_SETTINGS } from "./command.ts";
import { formatTable } from "./table.ts";
import { configuredRemote, existingDest } from "./find_archive.ts";
import { localStore } from "../store/local_store.ts";
import { readDrillRecord } from "../store/drill_record.ts";
import { pitrText, type PitrView, pitrView } from "./wal_view.ts";

/**
 * How long ago, in the largest fitting unit.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(formatAge(90 * 60_000), "1 h ago");
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

/** One archive as `list` shows it. */
interface Listed {
  path: string;
  size: number;
  /** When it was made, epoch milliseconds. */
  time: number;
  /** Where copies are. */
  where: ("local" | "bucket")[];
  /** When a restore drill last passed on it, ISO 8601. */
  drilled?: string;
}

/** The archive's kind from its name: gzip or zstd, and age when encrypted. */
function kindOf(path: string): string {
  return `${compressionOfName(path)}${isEncryptedName(path) ? "+age" : ""}`;
}

/**
 * `backupd list [--remote] [--json]`: archives under DEST (or in the bucket), newest first,
 * with a header and a count: name, size, age, kind (gzip, zstd, +age), and where copies are
 * (local, bucket). With a bucket configured, DEST's list says which archives it holds too.
 */
export const listCommand: Command = {
  name: "list",
  description: "archives under DEST, newest first: name, size, age, kind, where",
  settings: ["dest", "tz", "logFormat", ...KEEP_SETTINGS, ...BUCKET_SETTINGS],
  options: {
    remote: { flag: "--remote", help: "list the archives in the bucket of --s3-url instead" },
    json: { flag: "--json", help: "print the archives as one JSON object" },
  },
  async run(ctx) {
    const { settings, taken } = await asTheDaemonRuns(ctx.settings, ["tz", "keep"]);
    const remote = ctx.options.remote === true;
    const bucket = remote || settings.s3
      ? await configuredRemote(settings, "list the bucket")
      : undefined;
    const store = remote && bucket ? bucket : localStore(await existingDest(settings, "list"));
    const archives = await store.list();
    const listed: Listed[] = [...archives].reverse().map((a) => ({
      path: a.path,
      size: a.size,
      time: instantOf(a, settings.tz),
      where: [remote ? "bucket" : "local"],
    }));
    if (!remote && bucket) await markInBucket(listed, bucket, ctx.log);
    if (!remote) {
      const { passed } = await readDrillRecord(store.url()).catch(() => ({ passed: {} }));
      for (const archive of listed) {
        const at = (passed as Record<string, string>)[archive.path];
        if (at) archive.drilled = at;
      }
    }
    const pitr = await pitrView(store.wal(), settings.tz, {
      keep: settings.keep,
      archives,
      now: ctx.now(),
    });
    ctx.stdout(
      ctx.options.json
        ? listJson(store.url(), listed, settings.tz, pitr)
        : listText(`${store.url()}${takenNote(taken)}`, listed, ctx.now()) +
          (pitr ? pitrText(pitr) : ""),
    );
    return EXIT.ok;
  },
};

/** Adds "bucket" to the archives the bucket holds too; a bucket that cannot be listed is a warning. */
async function markInBucket(listed: Listed[], bucket: ArchiveStore, log: Logger): Promise<void> {
  try {
    const remote = new Set((await bucket.list()).map((a) => a.path));
    for (const archive of listed) if (remote.has(archive.path)) archive.where.push("bucket");
  } catch (err) {
    // The local list stands on its own; the bucket's absence is said, not fatal.
    log.warn("cannot list the bucket; showing DEST only", { reason: describeError(err) });
  }
}

function listJson(
  location: string,
  listed: readonly Listed[],
  tz: string,
  pitr: PitrView | undefined,
): string {
  const archives = listed.map((a) => ({
    path: a.path,
    size: a.size,
    // Archive names carry no offset: the time says it.
    time: isoInZone(a.time, tz),
    kind: kindOf(a.path),
    where: a.where,
    ...(a.drilled ? { drilled: isoInZone(Date.parse(a.drilled), tz) } : {}),
  }));
  return `${
    JSON.stringify({ location, tz, count: listed.length, archives, ...(pitr ? { pitr } : {}) })
  }\n`;
}

function listText(location: string, listed: readonly Listed[], now: number): string {
  // The column appears once a drill has passed on one of them (README: Restore drills).
  const drilled = listed.some((a) => a.drilled);
  const rows = [
    ["ARCHIVE", "SIZE", "AGE", "KIND", "WHERE", ...(drilled ? ["DRILLED"] : [])],
    ...listed.map((a) => [
      a.path,
      formatBytes(a.size),
      formatAge(now - a.time),
      kindOf(a.path),
      a.where.join("+"),
      ...(drilled ? [a.drilled ? `passed ${formatAge(now - Date.parse(a.drilled))}` : "-"] : []),
    ]),
  ];
  const count = listed.length === 1 ? "1 archive" : `${listed.length} archives`;
  return `${formatTable(rows)}${count} in ${location}\n`;
}
