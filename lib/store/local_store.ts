// The files under DEST that backupd owns: date folders, archives, sidecars, partials.
// Only names that backupd writes are ever listed, chosen or removed here.

import type { Logger } from "../base/log.ts";
import { removeIfPresent } from "./atomic_file.ts";
import type { ArchiveStore } from "./archive_store.ts";
import { statIfPresent } from "../base/files.ts";
import { localWalStore } from "./wal_store.ts";
import {
  archiveFileName,
  type ArchiveName,
  byAge,
  type Compression,
  isDayFolder,
  isPartialName,
  parseArchiveName,
  partialName,
  sidecarName,
} from "./names.ts";

async function dayFolders(dest: string): Promise<string[]> {
  const days: string[] = [];
  for await (const entry of Deno.readDir(dest)) {
    if (entry.isDirectory && isDayFolder(entry.name)) days.push(entry.name);
  }
  return days.sort();
}

/**
 * Removes partial files that a crashed run left in DEST's date folders.
 * Call it only while holding the lock. Returns the relative paths removed.
 *
 * @example
 * ```ts ignore
 * const removed = await removeStalePartials("/backup");
 * ```
 */
export async function removeStalePartials(dest: string, log?: Logger): Promise<string[]> {
  const removed: string[] = [];
  for (const day of await dayFolders(dest)) {
    for await (const entry of Deno.readDir(`${dest}/${day}`)) {
      if (!entry.isFile || !isPartialName(entry.name)) continue;
      await removeIfPresent(`${dest}/${day}/${entry.name}`);
      removed.push(`${day}/${entry.name}`);
      log?.info("removed a partial file left by an interrupted run", {
        path: `${day}/${entry.name}`,
      });
    }
  }
  return removed;
}

/**
 * The first archive name for `time` in `dayDir` that no archive, sidecar or partial uses,
 * encrypted or not, so that each second's `-N` stays unique.
 *
 * @example
 * ```ts ignore
 * await freeArchiveName("/backup/2027-01-02", "01-00-00", "gzip"); // "01-00-00.tar.gz"
 * ```
 */
export async function freeArchiveName(
  dayDir: string,
  time: string,
  compression: Compression,
  encrypted = false,
): Promise<string> {
  for (let seq = 0;; seq++) {
    const names = [false, true].flatMap((age) => {
      const name = archiveFileName(time, seq, compression, age);
      return [name, sidecarName(name), partialName(name), partialName(sidecarName(name))];
    });
    const taken = await Promise.all(names.map((n) => statIfPresent(`${dayDir}/${n}`)));
    if (taken.every((info) => info === undefined)) {
      return archiveFileName(time, seq, compression, encrypted);
    }
  }
}

/**
 * Archives under DEST, oldest first; files backupd did not write are not listed.
 *
 * @example
 * ```ts ignore
 * for (const archive of await listArchives("/backup")) console.log(archive.path);
 * ```
 */
export async function listArchives(dest: string): Promise<ArchiveName[]> {
  const archives: ArchiveName[] = [];
  for (const day of await dayFolders(dest)) {
    for await (const entry of Deno.readDir(`${dest}/${day}`)) {
      const parsed = entry.isFile ? parseArchiveName(day, entry.name) : undefined;
      if (parsed) archives.push(parsed);
    }
  }
  return archives.sort(byAge);
}

async function removeFolderIfEmpty(dir: string): Promise<void> {
  for await (const _ of Deno.readDir(dir)) return;
  await Deno.remove(dir);
}

/**
 * DEST as an archive store: paths are shown relative to it; a DEST that is not there holds
 * no archive; a prune removes the date folders it leaves empty.
 *
 * @example
 * ```ts ignore
 * const newest = (await localStore("/backup").list()).at(-1);
 * ```
 */
export function localStore(dest: string): ArchiveStore {
  return {
    list: async () => {
      let archives: ArchiveName[];
      try {
        archives = await listArchives(dest);
      } catch (err) {
        // No DEST yet means no archives, not an error.
        if (err instanceof Deno.errors.NotFound) return [];
        throw err;
      }
      return await Promise.all(archives.map(async (a) => ({
        ...a,
        size: (await Deno.stat(`${dest}/${a.path}`)).size,
      })));
    },
    open: async (path) => {
      try {
        return (await Deno.open(`${dest}/${path}`)).readable;
      } catch (err) {
        if (err instanceof Deno.errors.NotFound) return undefined;
        throw err;
      }
    },
    remove: (path) => removeIfPresent(`${dest}/${path}`),
    url: (path) => path ?? dest,
    file: (path) => `${dest}/${path}`,
    wal: () => localWalStore(dest),
    tidy: async (removed) => {
      const days = new Set(removed.map((path) => path.slice(0, path.indexOf("/"))));
      for (const day of days) await removeFolderIfEmpty(`${dest}/${day}`);
    },
  };
}
