// Before archiving: enough room on DEST for the archive, judged by the newest one (or by
// SOURCE when there is none), or the run fails at once with one line. SOURCE's size comes
// from the run's one walk, so the check by SOURCE waits for it.

import { statfs } from "node:fs/promises";
import type { Folders } from "../archive/folders.ts";
import { formatBytes } from "../base/bytes.ts";
import { listArchives } from "../store/local_store.ts";
import { RunError } from "../base/errors.ts";
import { readWalCatalog } from "../postgres/wal_catalog.ts";
import { localWalStore } from "../store/wal_store.ts";

/** Free space a run needs, as a multiple of the newest archive (or of SOURCE without one). */
export const SPACE_FACTOR = 1.5;

/**
 * Fails the run when DEST lacks room for 1.5 x the newest archive. Without an archive
 * nothing is judged yet: the room for SOURCE is checked once the walk has counted it, by
 * the function returned.
 */
export async function checkFreeSpace(
  folders: Folders,
): Promise<((sourceBytes: number) => Promise<void>) | undefined> {
  const newest = (await listArchives(folders.dest)).at(-1);
  if (!newest) {
    return (bytes) => needRoom(folders.dest, bytes, "the source (no archive yet)");
  }
  const bytes = (await Deno.stat(`${folders.dest}/${newest.path}`)).size;
  // WAL archiving stores about as much again until the next base backup as it did since
  // the newest one began (README: Point-in-time recovery).
  const wal = await walSinceNewestBase(folders.dest);
  await needRoom(
    folders.dest,
    bytes + wal,
    wal > 0
      ? `the newest archive and the WAL stored since it (${formatBytes(wal)})`
      : "the newest archive",
  );
  return undefined;
}

/** Bytes of WAL stored under DEST since the newest base backup began. */
async function walSinceNewestBase(dest: string): Promise<number> {
  const catalog = await readWalCatalog(localWalStore(dest));
  const newest = catalog.bases.at(-1);
  if (!newest) return 0;
  const from = Number(newest.start / BigInt(catalog.segmentBytes));
  return catalog.segments.filter((s) => s.segno >= from).reduce((sum, s) => sum + s.size, 0);
}

async function needRoom(dest: string, bytes: number, what: string): Promise<void> {
  const fs = await statfs(dest);
  const free = fs.bavail * fs.bsize;
  const needed = Math.ceil(bytes * SPACE_FACTOR);
  if (free < needed) {
    throw new RunError(
      `Cannot start the backup: "${dest}" has ${
        formatBytes(free)
      } free, and ${SPACE_FACTOR} x ${what} is ${formatBytes(needed)}`,
    );
  }
}
