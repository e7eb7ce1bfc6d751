// The folder a restore fills: absent or empty, with a hidden stage inside it that is moved
// into place only when the archive is complete, and removed when it is not.

import { fsReason, RunError } from "../base/errors.ts";
import { dirname } from "node:path";
import { statIfPresent } from "../base/files.ts";

/** The prefix of the hidden folder a restore fills before moving its entries into DIR. */
const STAGE_PREFIX = ".backupd-restore-";

/**
 * Throws a `RunError` unless `dir` is absent or an empty folder; changes nothing.
 *
 * @example
 * ```ts ignore
 * await checkRestoreTarget("/srv/pgdata");
 * ```
 */
export async function checkRestoreTarget(dir: string): Promise<void> {
  let info: Deno.FileInfo | undefined;
  try {
    info = await statIfPresent(dir);
  } catch (err) {
    // A folder above DIR that may not be entered: that folder is the one to name.
    throw new RunError(`Cannot restore into "${dir}": ${fsReason(err, dirname(dir))}`, {
      cause: err,
    });
  }
  if (info === undefined) return;
  if (!info.isDirectory) throw new RunError(`Cannot restore into "${dir}": not a folder`);
  try {
    for await (const entry of Deno.readDir(dir)) {
      // What an interrupted restore left is removed by the next one: it does not count.
      if (entry.name.startsWith(STAGE_PREFIX)) continue;
      throw new RunError(`Cannot restore into "${dir}": not empty`);
    }
  } catch (err) {
    if (err instanceof RunError) throw err;
    throw new RunError(`Cannot restore into "${dir}": ${fsReason(err, dir)}`, { cause: err });
  }
}

/** DIR ready for a restore, and the hidden staging folder inside it. */
export interface Target {
  /** The hidden folder inside DIR that entries go into until all are there. */
  stage: string;
  /** Whether this restore made DIR (a failed one removes it again). */
  created: boolean;
}

/**
 * Makes DIR ready for a restore: it must not exist or be empty; leftovers of an interrupted
 * restore are removed first. Entries go into a stage inside it until all are there.
 */
export async function prepareTarget(
  dir: string,
  options: { onLeftovers?: (path: string) => void },
): Promise<Target> {
  await checkRestoreTarget(dir);
  const created = await statIfPresent(dir) === undefined;
  // Inside DIR, so on its file system even when DIR is a mount point: moving is renaming.
  const stage = `${dir}/${STAGE_PREFIX}${Deno.pid}`;
  try {
    if (created) await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    for await (const entry of Deno.readDir(dir)) {
      const leftover = `${dir}/${entry.name}`;
      await Deno.remove(leftover, { recursive: true });
      options.onLeftovers?.(leftover);
    }
    await Deno.mkdir(stage, { mode: 0o700 });
  } catch (err) {
    // DIR itself, or the folder it is made in, that may not be written.
    const blocking = created ? dirname(dir) : dir;
    throw new RunError(`Cannot restore into "${dir}": ${fsReason(err, blocking)}`, { cause: err });
  }
  return { stage, created };
}

/** Undoes a restore that did not finish: DIR is left as it was found, empty or absent. */
export async function abandon(dir: string, target: Target): Promise<void> {
  // One that cannot be removed now (a full or failing disk) is removed by the next restore.
  await Deno.remove(target.stage, { recursive: true }).catch(() => undefined);
  // Only when empty: moved entries stay for the operator to see rather than being lost.
  if (target.created) await Deno.remove(dir).catch(() => undefined);
}
