// Before archiving: enough room on DEST for the archive, judged by the newest one (or by
// SOURCE when there is none), or the run fails at once with one line.

import { statfs } from "node:fs/promises";
import type { Folders } from "../archive/folders.ts";
import { formatBytes } from "../base/progress.ts";
import { excludeMatcher } from "../base/glob.ts";
import { treeBytes } from "../archive/walk.ts";
import { listArchives } from "../store/local_store.ts";
import { RunError } from "../base/errors.ts";

/** Free space a run needs, as a multiple of the newest archive (or of SOURCE without one). */
export const SPACE_FACTOR = 1.5;

export async function checkFreeSpace(folders: Folders, excludes: readonly string[]): Promise<void> {
  const newest = (await listArchives(folders.dest)).at(-1);
  const basis = newest
    ? {
      bytes: (await Deno.stat(`${folders.dest}/${newest.path}`)).size,
      what: "the newest archive",
    }
    : {
      bytes: await treeBytes(folders.source, {
        skipFolders: folders.skip,
        exclude: excludeMatcher(excludes),
      }),
      what: "the source (no archive yet)",
    };
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
