// One run at a time per DEST: an flock on DEST/.backupd/lock, which the kernel drops when
// its holder dies, so a killed run never leaves a lock that blocks the next one.

import { LockHeldError } from "../base/errors.ts";

/** A held lock. */
export interface Lock {
  /** The lock file's path. */
  path: string;
  /** Gives the lock up. */
  release(): void;
}

/**
 * Takes the lock in `stateDir` without waiting; throws LockHeldError naming the holder.
 *
 * @example
 * ```ts ignore
 * const lock = await acquireLock("/backup/.backupd", `pid ${Deno.pid}`);
 * try { ... } finally { lock.release(); }
 * ```
 */
export async function acquireLock(stateDir: string, holder: string): Promise<Lock> {
  const path = `${stateDir}/lock`;
  const file = await Deno.open(path, { read: true, write: true, create: true, mode: 0o600 });
  let locked = false;
  try {
    locked = await file.tryLock(true);
    if (!locked) {
      const text = (await Deno.readTextFile(path)).trim();
      throw new LockHeldError(path, text === "" ? "another process" : text);
    }
    await file.truncate(0);
    await file.write(new TextEncoder().encode(`${holder}\n`));
  } catch (err) {
    file.close();
    throw err;
  }
  return {
    path,
    release: () => {
      file.close();
    },
  };
}
