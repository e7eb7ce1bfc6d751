// What an entry is now, asked again while it is archived: a link that may have been
// swapped, and an unreadable file in one line.

import { RunError } from "../base/errors.ts";

export function isSymlinkNow(path: string): boolean {
  try {
    return Deno.lstatSync(path).isSymlink;
  } catch (err) {
    // Gone too: whatever it is now, it is not the link the walk saw.
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

export function describeOpenError(path: string, err: unknown): RunError {
  const reason = err instanceof Deno.errors.PermissionDenied ? "permission denied" : String(err);
  return new RunError(`Cannot read "${path}": ${reason}`, { cause: err });
}
