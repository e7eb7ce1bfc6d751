// Tar headers for what the walk found: mode, owners, time and names, with pax records
// where ustar is not enough (long or non-ASCII names, large ids, sub-second times).

import type { TarHeader } from "../base/tar_header.ts";
import type { OwnerNames } from "./owners.ts";
import type { WalkEntry } from "./walk.ts";

const USTAR_MAX_SECONDS = 0o77777777777;

// deno-lint-ignore no-control-regex
const NON_ASCII = /[^\x00-\x7f]/;

/** The mtime a header carries, with a pax record where ustar's whole seconds do not suffice. */
export function timeFields(mtime: Date | null, pax: Record<string, string>): Date {
  const ms = mtime?.getTime() ?? 0;
  const seconds = Math.floor(ms / 1000);
  const fits = seconds >= 0 && seconds <= USTAR_MAX_SECONDS;
  if (ms % 1000 !== 0 || !fits) pax.mtime = (ms / 1000).toFixed(3).replace(/\.?0+$/, "");
  return new Date(fits ? seconds * 1000 : 0);
}

/** What a header takes from a file's status. */
export interface HeaderInfo {
  /** Permission bits, if known. */
  mode: number | null;
  /** Owner's user id, if known. */
  uid: number | null;
  /** Owner's group id, if known. */
  gid: number | null;
  /** Modification time, if known. */
  mtime: Date | null;
}

/**
 * The header of an entry as the walk or an open file saw it: mode, owners, time and name,
 * with pax records where ustar is not enough.
 */
export function baseHeader(
  info: HeaderInfo,
  name: string,
  owners: OwnerNames | undefined,
): TarHeader {
  const pax: Record<string, string> = {};
  const header: TarHeader = {
    name,
    size: 0,
    mode: (info.mode ?? 0) & 0o7777,
    uid: info.uid ?? 0,
    gid: info.gid ?? 0,
    mtime: timeFields(info.mtime, pax),
    pax,
  };
  const uname = owners?.user(header.uid ?? 0);
  const gname = owners?.group(header.gid ?? 0);
  if (uname !== undefined) header.uname = uname;
  if (gname !== undefined) header.gname = gname;
  // Non-ASCII names go in pax records too, so every reader decodes them as UTF-8.
  if (NON_ASCII.test(name)) pax.path = name;
  if (uname && NON_ASCII.test(uname)) pax.uname = uname;
  if (gname && NON_ASCII.test(gname)) pax.gname = gname;
  return header;
}

/** The header of a hard link or symlink; a non-ASCII target goes in a pax record too. */
export function linkHeader(
  entry: WalkEntry,
  name: string,
  link: { type: "link" | "symlink"; target: string; owners: OwnerNames | undefined },
): TarHeader {
  const header = baseHeader(entry.info, name, link.owners);
  header.type = link.type;
  header.linkname = link.target;
  if (NON_ASCII.test(link.target)) header.pax = { ...header.pax, linkpath: link.target };
  return header;
}

/** Mode, owner and time of an entry that has no file of its own on disk. */
export interface EntryLook {
  /** Permission bits (and setuid, setgid, sticky). */
  mode: number;
  /** Owner's user id. */
  uid: number;
  /** Owner's group id. */
  gid: number;
  /** Epoch milliseconds. */
  mtimeMs: number;
}
