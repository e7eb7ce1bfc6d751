// Before archiving: enough room on DEST for the archive, judged by the newest one (or by
// SOURCE when there is none), or the run fails at once with one line. SOURCE's size comes
// from the run's one walk, so the check by SOURCE waits for it.

import { statfs } from "node:fs/promises";
import type { Folders } from "../archive/folders.ts";
import { formatBytes } from "../base/progress.ts";
import { listArchives } from "../store/local_store.ts";
import { RunError } from "../base/errors.ts";

/** Free space a run needs, as a multiple of the newest archive (or of SOURCE without one). */
export const SPACE_FACTOR = 1.5;

/**
 * Fails the run when DEST lacks room: judged by the newest archive, or without one by
 * `sourceBytes` when given (and not at all before the walk has counted them).
 */
export async function checkFreeSpace(folders: Folders, sourceBytes?: number): Promise<void> {
  const newest = (await listArchives(folders.dest)).at(-1);
  if (!newest && sourceBytes === undefined) return;
  const basis = newest
    ? {
      bytes: (await Deno.stat(`${folders.dest}/${newest.path}`)).size,
      what: "the newest archive",
    }
    : { bytes: sourceBytes ?? 0, what: "the source (no archive yet)" };
  const fs = await statfs(folders.dest);
  const free = fs.bavail * fs.bsize;
  const needed = Math.ceil(basis.bytes * SPACE_FACTOR);
  if (free < needed) {
    throw new RunError(
      `Cannot start the backup: "${folders.dest}" has ${
        formatBytes(free)
      } free, and ${SPACE_FACTOR} x ${basis.what} is ${formatBytes(needed)}`,
    );
  }
}
