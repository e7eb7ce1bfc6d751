// `backupd list`: archives under DEST (or in the bucket), newest first: name, size, age.

import { resolve } from "node:path";
import { EXIT } from "../base/errors.ts";
import { instantOf } from "../store/names.ts";
import { formatBytes } from "../base/progress.ts";
import type { Settings } from "../settings/settings.ts";
import { type CommandIo, configuredRemote } from "./archives.ts";
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

/**
 * `backupd list [--remote]`: archives under DEST (or in the bucket), newest first: name,
 * size, age.
 *
 * @example
 * ```ts ignore
 * await commandList(settings, false, io); // prints "2027-01-02/01-00-00.tar.gz  12.3 MiB  2 h ago"
 * ```
 */
export async function commandList(
  settings: Settings,
  remote: boolean,
  io: CommandIo,
): Promise<number> {
  const store = remote
    ? await configuredRemote(settings, "list the bucket")
    : localStore(resolve(settings.dest));
  const sized = (await store.list()).reverse();
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
