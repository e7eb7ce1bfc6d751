// The small JSON files under DEST/.backupd (status, daemon, quiesced containers): read as
// absent when missing, and written whole through a rename so no reader sees half of one.

import { fsReason, RunError } from "../base/errors.ts";

/**
 * The folder of backupd's own files under DEST: the lock and the state files.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(stateDirOf("/backup"), "/backup/.backupd");
 * ```
 */
export function stateDirOf(dest: string): string {
  return `${dest}/.backupd`;
}

/**
 * A state file under DEST/.backupd cannot be read or written: damaged, or on a file system
 * that refuses (read-only, full, permission denied).
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * const err = new StateFileError('Cannot read "/backup/.backupd/status.json": not valid JSON');
 * assertEquals(err.name, "StateFileError");
 * ```
 */
export class StateFileError extends RunError {}

/**
 * Reads a JSON state file; `undefined` when there is none.
 *
 * @example
 * ```ts ignore
 * const last = await readStateFile<{ result: string }>("/backup/.backupd/status.json");
 * ```
 */
export async function readStateFile<T>(path: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw new StateFileError(`Cannot read "${path}": ${fsReason(err)}`, { cause: err });
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new StateFileError(`Cannot read "${path}": not valid JSON (the next run rewrites it)`, {
      cause: err,
    });
  }
}

/**
 * Writes a JSON state file atomically (owner-only).
 *
 * @example
 * ```ts ignore
 * await writeStateFile("/backup/.backupd/status.json", { result: "ok" });
 * ```
 */
export async function writeStateFile(path: string, value: unknown): Promise<void> {
  const temp = `${path}.tmp-${Deno.pid}`;
  try {
    await Deno.writeTextFile(temp, JSON.stringify(value, null, 2) + "\n", { mode: 0o600 });
    await Deno.rename(temp, path);
  } catch (err) {
    // A half-written temporary file is of no use to anyone; it may not even exist.
    await Deno.remove(temp).catch(() => undefined);
    throw new StateFileError(`Cannot write "${path}": ${fsReason(err)}`, { cause: err });
  }
}
