// Opens a file of SOURCE only as the walk saw it: never through a symlink, never blocking
// on a FIFO, and only while it is still the same file (device and inode). After the read,
// its name is lstat'ed rather than the open file fstat'ed: node:fs's fstat costs ~9 µs, a
// third of all the work on a small file, and Deno cannot fstat a node:fs descriptor.

import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { RunError } from "../base/errors.ts";

/** A file opened for reading, with its status at the time it was opened. */
export interface SourceFile {
  /** Its size when opened: exactly this many bytes are stored. */
  size: number;
  /** Its mode bits. */
  mode: number;
  /** Its owner's user id. */
  uid: number;
  /** Its owner's group id. */
  gid: number;
  /** Its modification time when opened. */
  mtime: Date;
  /** Its number of hard links. */
  nlink: number;
  /** Reads into `buffer`; the bytes read, 0 at the end. */
  readSync(buffer: Uint8Array): number;
  /** Its modification time now, epoch milliseconds; NaN when its name is now another file. */
  mtimeMsNow(): number;
  /** Closes the file. */
  close(): void;
}

const FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

function code(err: unknown): unknown {
  return (err as { code?: unknown })?.code;
}

/**
 * Opens `path` if it is still the regular file `seen` (its lstat in the walk). "gone" when
 * nothing is there any more; "replaced" when a link, another file or a special file is.
 * Other failures (permission denied, I/O errors) are thrown.
 *
 * @example
 * ```ts ignore
 * const seen = Deno.lstatSync("/data/base/1/1259");
 * const file = openAsSeen("/data/base/1/1259", seen);
 * if (typeof file === "object") file.close();
 * ```
 */
export function openAsSeen(
  path: string,
  seen: { dev: number; ino: number | null },
): SourceFile | "gone" | "replaced" {
  let fd: number;
  try {
    fd = openSync(path, FLAGS);
  } catch (err) {
    if (code(err) === "ENOENT") return "gone";
    // O_NOFOLLOW refuses a symlink with ELOOP: the path was swapped for a link.
    if (code(err) === "ELOOP" || code(err) === "ENXIO") return "replaced";
    throw err;
  }
  const stat = fstatSync(fd);
  if (!stat.isFile() || stat.dev !== seen.dev || stat.ino !== seen.ino) {
    closeSync(fd);
    return "replaced";
  }
  return {
    size: stat.size,
    mode: stat.mode,
    uid: stat.uid,
    gid: stat.gid,
    mtime: stat.mtime,
    nlink: stat.nlink,
    readSync: (buffer) => readSync(fd, buffer, 0, buffer.length, null),
    mtimeMsNow: () => {
      try {
        const now = Deno.lstatSync(path);
        return now.ino === stat.ino && now.dev === stat.dev ? now.mtime?.getTime() ?? NaN : NaN;
      } catch {
        // Gone since: it may have changed on its way out.
        return NaN;
      }
    },
    close: () => closeSync(fd),
  };
}

/** Whether `path` is a symlink now (false when it is gone). */
export function isSymlinkNow(path: string): boolean {
  try {
    return Deno.lstatSync(path).isSymlink;
  } catch (err) {
    // Gone too: whatever it is now, it is not the link the walk saw.
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/** An entry that cannot be opened or read, as one line naming its path. */
export function describeOpenError(path: string, err: unknown): RunError {
  const reason = err instanceof Deno.errors.PermissionDenied ? "permission denied" : String(err);
  return new RunError(`Cannot read "${path}": ${reason}`, { cause: err });
}
