// DEST/wal/ (README: Point-in-time recovery): the archived WAL segments, the rolling
// partial copy of the segment being written, timeline history files and base backups'
// records, each beside a sha256 sidecar. A file appears under its final name only whole:
// its sidecar first, then itself, each through a hidden `.partial` and a rename.

import { createHash } from "node:crypto";
import { removeIfPresent, syncFolder } from "./atomic_file.ts";
import { partialName, sidecarName, sidecarText } from "./names.ts";
import { parseStoredWal, type StoredWal, WAL_FOLDER } from "./wal_names.ts";
import { readStateFile, stateDirOf, writeStateFile } from "./state_file.ts";

/** A file in DEST/wal/ with what the file system says of it. */
export interface WalFile extends StoredWal {
  /** Bytes as stored. */
  size: number;
  /** When it was stored (for a partial copy: when the WAL in it was read), Unix ms. */
  storedMs: number;
}

/**
 * The WAL folder of a DEST.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(walFolder("/backup"), "/backup/wal");
 * ```
 */
export function walFolder(dest: string): string {
  return `${dest}/${WAL_FOLDER}`;
}

/**
 * Orders stored WAL: by segment, then timeline, then kind (history files first).
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * const a = { segno: 3, timeline: 1, file: "b" };
 * const b = { segno: 3, timeline: 2, file: "a" };
 * assertEquals([b, a].sort(byPosition), [a, b]);
 * ```
 */
export function byPosition(
  a: Pick<StoredWal, "segno" | "timeline" | "file">,
  b: Pick<StoredWal, "segno" | "timeline" | "file">,
): number {
  return a.segno - b.segno || a.timeline - b.timeline || (a.file < b.file ? -1 : 1);
}

/**
 * The WAL files backupd stored under DEST, oldest first; none when there is no wal/ folder.
 * A file whose sidecar is missing was not stored whole and is left out.
 *
 * @example
 * ```ts ignore
 * const stored = await listWal("/backup", 16 * 1024 * 1024);
 * ```
 */
export async function listWal(dest: string, segmentBytes: number): Promise<WalFile[]> {
  const dir = walFolder(dest);
  const names = new Set<string>();
  try {
    for await (const entry of Deno.readDir(dir)) if (entry.isFile) names.add(entry.name);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
  const files: WalFile[] = [];
  for (const name of names) {
    const parsed = parseStoredWal(name, segmentBytes);
    if (!parsed || !names.has(sidecarName(name))) continue;
    const info = await statIfStill(`${dir}/${name}`);
    if (!info) continue;
    files.push({ ...parsed, size: info.size, storedMs: info.mtime?.getTime() ?? 0 });
  }
  return files.sort(byPosition);
}

/**
 * A listed file's information; none when it went between the listing and the look (a
 * running daemon replaces its partial copy every cycle).
 */
async function statIfStill(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.stat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
}

async function writeHidden(dir: string, name: string, bytes: Uint8Array): Promise<string> {
  const path = `${dir}/${partialName(name)}`;
  using file = await Deno.open(path, { write: true, create: true, truncate: true, mode: 0o600 });
  let rest = bytes;
  while (rest.length > 0) rest = rest.subarray(await file.write(rest));
  await file.sync();
  return path;
}

/**
 * Stores `bytes` as DEST/wal/`name` with its sidecar, replacing a file of that name; the
 * file's time is set to `storedMs`. Returns the sha256 of the stored bytes.
 *
 * @example
 * ```ts ignore
 * await storeWal("/backup", "000000010000000000000003.gz", bytes, Date.now());
 * ```
 */
export async function storeWal(
  dest: string,
  name: string,
  bytes: Uint8Array,
  storedMs: number,
): Promise<string> {
  const dir = walFolder(dest);
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const sidecar = sidecarName(name);
  const written: string[] = [];
  try {
    written.push(
      await writeHidden(dir, sidecar, new TextEncoder().encode(sidecarText(sha256, name))),
    );
    written.push(await writeHidden(dir, name, bytes));
    const time = new Date(storedMs);
    await Deno.utime(written[1] as string, time, time);
    // The sidecar first: a crash between the renames leaves a sidecar without its file,
    // which counts as not stored, never a file that verify cannot check.
    await Deno.rename(written[0] as string, `${dir}/${sidecar}`);
    await Deno.rename(written[1] as string, `${dir}/${name}`);
    await syncFolder(dir);
  } catch (err) {
    for (const path of written) await removeIfPresent(path);
    throw err;
  }
  return sha256;
}

/**
 * Removes DEST/wal/`name` and its sidecar.
 *
 * @example
 * ```ts ignore
 * await removeWal("/backup", "000000010000000000000003.partial.gz");
 * ```
 */
export async function removeWal(dest: string, name: string): Promise<void> {
  const dir = walFolder(dest);
  await removeIfPresent(`${dir}/${name}`);
  await removeIfPresent(`${dir}/${sidecarName(name)}`);
}

/**
 * Removes the hidden partial files an interrupted archiving cycle left in DEST/wal/.
 *
 * @example
 * ```ts ignore
 * await removeWalLeftovers("/backup");
 * ```
 */
export async function removeWalLeftovers(dest: string): Promise<string[]> {
  const removed: string[] = [];
  try {
    for await (const entry of Deno.readDir(walFolder(dest))) {
      if (entry.isFile && entry.name.startsWith(".") && entry.name.endsWith(".partial")) {
        await removeIfPresent(`${walFolder(dest)}/${entry.name}`);
        removed.push(entry.name);
      }
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return removed;
}

/** A stretch of WAL that could not be archived: the server no longer had it. */
export interface WalGap {
  /** The first missing segment. */
  from: string;
  /** The last missing segment. */
  to: string;
  /** When backupd found it, ISO 8601. */
  found: string;
}

/** What the WAL archiver records for `health`, `list` and metrics (DEST/.backupd/wal.json). */
export interface WalState {
  /** The slot's name. */
  slot: string;
  /** The daemon's archiving interval, ms. */
  intervalMs: number;
  /** --wal-max-retained, bytes. */
  maxRetainedBytes: number;
  /** The moment of the last flush LSN read that a cycle then stored all of, ISO 8601. */
  caughtUp?: string;
  /** The server's WAL segment size. */
  segmentBytes: number;
  /** When a cycle last ended, ISO 8601. */
  lastCycle?: string;
  /** When a cycle last found the server answering, ISO 8601. */
  lastAnswer?: string;
  /** When WAL was last stored (a segment or the partial copy), ISO 8601. */
  lastArchived?: string;
  /** The timeline the slot was last seen on. */
  slotTimeline?: number;
  /** The newest whole segment stored. */
  lastSegment?: string;
  /** Segments stored since the daemon started. */
  segments: number;
  /** Bytes the server has written that are not stored yet. */
  lagBytes: number;
  /** Bytes of WAL the slot holds on the server. */
  retainedBytes: number;
  /** The server's max_slot_wal_keep_size in bytes as last read; null: no limit (-1). */
  slotLimitBytes?: number | null;
  /** Gaps found, oldest first. */
  gaps: WalGap[];
  /** What is wrong now, if anything: one line. */
  problem?: string;
  /** When PITR broke last (a gap, a lost slot), ISO 8601. */
  brokenSince?: string;
  /** The WAL position from which it is whole: a base backup starting there heals it. */
  wholeFrom?: string;
}

const STATE = "wal.json";

/**
 * The WAL archiver's state under DEST; `undefined` when it never ran.
 *
 * @example
 * ```ts ignore
 * const state = await readWalState("/backup");
 * ```
 */
export function readWalState(dest: string): Promise<WalState | undefined> {
  return readStateFile<WalState>(`${stateDirOf(dest)}/${STATE}`);
}

/**
 * Writes the WAL archiver's state under DEST.
 *
 * @example
 * ```ts ignore
 * await writeWalState("/backup", state);
 * ```
 */
export async function writeWalState(dest: string, state: WalState): Promise<void> {
  await Deno.mkdir(stateDirOf(dest), { recursive: true, mode: 0o700 });
  await writeStateFile(`${stateDirOf(dest)}/${STATE}`, state);
}

/** A file in a WAL folder as a store lists it. */
export interface WalObject {
  /** Its name in the folder. */
  file: string;
  /** Bytes as stored. */
  size: number;
  /** When it was stored, Unix ms. */
  storedMs: number;
}

/** A WAL folder, in DEST or in a bucket: what retention, list, verify and restore read. */
export interface WalStore {
  /** Every file in the folder, sidecars included. */
  list(): Promise<WalObject[]>;
  /** A file's bytes; none when it is not there. */
  read(file: string): Promise<Uint8Array | undefined>;
  /** Removes a file; one already gone is fine. */
  remove(file: string): Promise<void>;
  /** How a file is shown to the operator. */
  url(file?: string): string;
}

/**
 * DEST/wal/ as a WAL store.
 *
 * @example
 * ```ts ignore
 * const files = await localWalStore("/backup").list();
 * ```
 */
export function localWalStore(dest: string): WalStore {
  const dir = walFolder(dest);
  return {
    list: async () => {
      const files: WalObject[] = [];
      try {
        for await (const entry of Deno.readDir(dir)) {
          if (!entry.isFile || entry.name.startsWith(".")) continue;
          const info = await statIfStill(`${dir}/${entry.name}`);
          if (!info) continue;
          files.push({ file: entry.name, size: info.size, storedMs: info.mtime?.getTime() ?? 0 });
        }
      } catch (err) {
        if (err instanceof Deno.errors.NotFound) return [];
        throw err;
      }
      return files;
    },
    read: async (file) => {
      try {
        return await Deno.readFile(`${dir}/${file}`);
      } catch (err) {
        if (err instanceof Deno.errors.NotFound) return undefined;
        throw err;
      }
    },
    remove: (file) => removeIfPresent(`${dir}/${file}`),
    url: (file) => (file === undefined ? dir : `${WAL_FOLDER}/${file}`),
  };
}
