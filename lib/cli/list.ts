// `backupd list`: archives under DEST (or in the bucket), newest first: name, size, age,
// kind and where copies are, under a header and over a count; or as JSON.

import { describeError, EXIT } from "../base/errors.ts";
import { compressionOfName, instantOf, isEncryptedName } from "../store/names.ts";
import { formatBytes } from "../base/bytes.ts";
import type { Settings } from "../settings/settings.ts";
import { type CommandIo, configuredRemote, existingDest } from "./archives.ts";
import { localStore } from "../store/local_store.ts";

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
}

/** The archive's kind from its name: gzip or zstd, and age when encrypted. */
function kindOf(path: string): string {
  return `${compressionOfName(path)}${isEncryptedName(path) ? "+age" : ""}`;
}

/**
 * `backupd list [--remote] [--json]`: archives under DEST (or in the bucket), newest first,
 * with a header and a count: name, size, age, kind (gzip, zstd, +age), and where copies are
 * (local, bucket). With a bucket configured, DEST's list says which archives it holds too.
 *
 * @example
 * ```ts ignore
 * await commandList(settings, { remote: false, json: false }, io);
 * ```
 */
export async function commandList(
  settings: Settings,
  options: { remote: boolean; json: boolean },
  io: CommandIo,
): Promise<number> {
  const bucket = options.remote || settings.s3
    ? await configuredRemote(settings, "list the bucket")
    : undefined;
  const store = options.remote && bucket
    ? bucket
    : localStore(await existingDest(settings, "list"));
  const here: "local" | "bucket" = options.remote ? "bucket" : "local";
  const listed: Listed[] = (await store.list()).reverse().map((a) => ({
    path: a.path,
    size: a.size,
    time: instantOf(a, settings.tz),
    where: [here],
  }));
  if (!options.remote && bucket) {
    try {
      const remote = new Set((await bucket.list()).map((a) => a.path));
      for (const archive of listed) if (remote.has(archive.path)) archive.where.push("bucket");
    } catch (err) {
      // The local list stands on its own; the bucket's absence is said, not fatal.
      io.log.warn("cannot list the bucket; showing DEST only", { reason: describeError(err) });
    }
  }
  const location = store.url();
  if (options.json) {
    io.stdout(
      `${
        JSON.stringify({
          location,
          count: listed.length,
          archives: listed.map((a) => ({
            path: a.path,
            size: a.size,
            time: new Date(a.time).toISOString(),
            kind: kindOf(a.path),
            where: a.where,
          })),
        })
      }\n`,
    );
    return EXIT.ok;
  }
  const rows = [
    ["ARCHIVE", "SIZE", "AGE", "KIND", "WHERE"],
    ...listed.map((a) => [
      a.path,
      formatBytes(a.size),
      formatAge(io.now() - a.time),
      kindOf(a.path),
      a.where.join("+"),
    ]),
  ];
  const widths = [0, 1, 2, 3].map((col) => Math.max(...rows.map((r) => (r[col] ?? "").length)));
  for (const row of rows) {
    io.stdout(
      `${row.map((cell, col) => col === 4 ? cell : cell.padEnd(widths[col] ?? 0)).join("  ")}\n`,
    );
  }
  const count = listed.length === 1 ? "1 archive" : `${listed.length} archives`;
  io.stdout(`${count} in ${location}\n`);
  return EXIT.ok;
}
