// Checks SOURCE and DEST on disk before a run touches anything, turning each problem into
// a ConfigError that names the setting and its value.

import { resolve } from "node:path";
import { ConfigError, fsReason } from "../base/errors.ts";
import { stateDirOf } from "../store/state_file.ts";
import type { FolderId } from "./walk.ts";

/** The folders of a run, checked and made absolute. */
export interface Folders {
  /** Absolute SOURCE. */
  source: string;
  /** Absolute DEST, created when missing. */
  dest: string;
  /** DEST/.backupd, created when missing. */
  stateDir: string;
  /** DEST's identity when it lies inside SOURCE (to leave it out), else none. */
  skip: FolderId[];
}

/** Which setting carried each folder, for messages. */
export interface FolderOrigins {
  /** The flag or variable that gave SOURCE, for messages. */
  source: string;
  /** The flag or variable that gave DEST, for messages. */
  dest: string;
}

/**
 * Checks that SOURCE is a readable folder and DEST a writable one (creating it), and
 * that they differ.
 *
 * @example
 * ```ts ignore
 * const folders = await checkFolders("/data", "/backup", { source: "--source", dest: "--dest" });
 * ```
 */
export async function checkFolders(
  source: string,
  dest: string,
  origins: FolderOrigins,
): Promise<Folders> {
  const absSource = resolve(source);
  const absDest = resolve(dest);
  let sourceInfo: Deno.FileInfo;
  try {
    sourceInfo = await Deno.stat(absSource);
  } catch (err) {
    throw new ConfigError(origins.source, source, fsReason(err), { cause: err });
  }
  if (!sourceInfo.isDirectory) throw new ConfigError(origins.source, source, "not a folder");
  try {
    for await (const _ of Deno.readDir(absSource)) break;
  } catch (err) {
    throw new ConfigError(origins.source, source, `cannot be read: ${fsReason(err, source)}`, {
      cause: err,
    });
  }

  const stateDir = stateDirOf(absDest);
  try {
    await Deno.mkdir(stateDir, { recursive: true, mode: 0o700 });
    const probe = `${stateDir}/.write-probe-${Deno.pid}`;
    await Deno.writeFile(probe, new Uint8Array(0), { mode: 0o600 });
    await Deno.remove(probe);
  } catch (err) {
    throw new ConfigError(origins.dest, dest, `not writable: ${fsReason(err, dest)}`, {
      cause: err,
    });
  }
  const destInfo = await Deno.stat(absDest);
  if (!destInfo.isDirectory) throw new ConfigError(origins.dest, dest, "not a folder");
  if (destInfo.dev === sourceInfo.dev && destInfo.ino === sourceInfo.ino) {
    throw new ConfigError(origins.dest, dest, `is the source folder "${source}"`);
  }
  const [realSource, realDest] = await Promise.all([
    Deno.realPath(absSource),
    Deno.realPath(absDest),
  ]);
  const inside = realDest.startsWith(`${realSource}/`);
  const skip = inside ? [{ dev: destInfo.dev, ino: destInfo.ino ?? 0 }] : [];
  return { source: absSource, dest: absDest, stateDir, skip };
}
