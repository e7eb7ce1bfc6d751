// Turns the entries of a walk into a POSIX tar stream (tar_format.ts): pax records
// where ustar is not enough, each file read through readExactly so a changing file never
// breaks it, straight into the blocks that are compressed.

import { createHash } from "node:crypto";
import type { TarHeader } from "modern-tar";
import type { TarOut } from "../codec/block_output.ts";
import { readExactly } from "./exact_reader.ts";
import { describeOpenError, isSymlinkNow, openAsSeen, type SourceFile } from "./source_file.ts";
import type { OwnerNames } from "./owners.ts";
import { type EntryInfo, entryInfo, type WalkEntry } from "./walk.ts";
import { tarStream } from "./tar_stream.ts";
import { baseHeader, type EntryLook, linkHeader, timeFields } from "./tar_headers.ts";

/** What went wrong with one path; the archive stays valid. */
export interface PackWarning {
  /** grew/shrank/changed: read while written; vanished: gone before read; skipped: socket, FIFO, device. */
  kind: "grew" | "shrank" | "changed" | "vanished" | "skipped";
  /** The entry name in the archive. */
  name: string;
  /** One-line explanation. */
  detail: string;
}

/** Counts of a finished pack. */
export interface PackStats {
  /** Entries written, of every type. */
  entries: number;
  /** Regular files with content written (hard links not counted). */
  files: number;
  /** Bytes of file content written. */
  bytes: number;
}

/** A regular file as stored in the archive (for a manifest of the backup). */
export interface StoredFile {
  /** Path relative to the root, `/`-separated. */
  rel: string;
  /** Bytes stored. */
  size: number;
  /** Modification time stored, epoch milliseconds. */
  mtimeMs: number;
  /** sha256 of the bytes stored, hex. */
  sha256: string;
}

/** Adds entries after the walk, before the end-of-archive marker. */
export interface PackAppender {
  /** Adds the file at `path` as `rel`, read exactly; the bytes stored, or none when it is gone. */
  file(rel: string, path: string): Promise<number | undefined>;
  /** Adds `content` as a regular file named `rel`. */
  content(rel: string, content: Uint8Array, look: EntryLook): Promise<void>;
  /** Adds a folder named `rel`. */
  folder(rel: string, look: EntryLook): Promise<void>;
}

/** Options of {@linkcode packTree}. */
export interface PackOptions {
  /** User and group names for the headers. */
  owners?: OwnerNames;
  /** Told of each path that could not be stored as it was. */
  onWarning?: (warning: PackWarning) => void;
  /** Told of each chunk of file content written, with its length. */
  onBytes?: (n: number) => void;
  /** Stops the pack between chunks. */
  signal?: AbortSignal;
  /** Told of each regular file stored, with its sha256 (computed only when this is set). */
  onStored?: (file: StoredFile) => void;
  /** Adds entries after the walk; its failure fails the pack. */
  finish?: (append: PackAppender) => Promise<void>;
}

/** Entries written one by one into a tar stream. */
export interface TarPacker {
  /** Writes one entry of the walk (a file's content read exactly). */
  add(entry: WalkEntry): Promise<void>;
  /** What was written so far. */
  stats(): PackStats;
  /** Runs `finish`, writes the end-of-archive marker; what was written in all. */
  end(): Promise<PackStats>;
}

/**
 * Writes the walked `entries` as a tar archive into `out`, named `<top>/<path>`.
 *
 * @example
 * ```ts ignore
 * const entries = await listTree("/data");
 * const stats = await packTree(entries.entries, "data", out);
 * ```
 */
export async function packTree(
  entries: Iterable<WalkEntry>,
  top: string,
  out: TarOut,
  options: PackOptions = {},
): Promise<PackStats> {
  const packer = tarPacker(top, out, options);
  for (const entry of entries) {
    if (options.signal?.aborted) throw options.signal.reason;
    await packer.add(entry);
  }
  return await packer.end();
}

/**
 * A tar stream into `out` whose entries are named `<top>/<path>`, written as they are added.
 *
 * @example
 * ```ts ignore
 * const packer = tarPacker("data", out);
 * for (const entry of entries) await packer.add(entry);
 * await packer.end();
 * ```
 */
export function tarPacker(top: string, out: TarOut, options: PackOptions = {}): TarPacker {
  const tar = tarStream(out);
  const stats: PackStats = { entries: 0, files: 0, bytes: 0 };
  /** Files with more than one link, by device and inode: the first name, and what it stored. */
  const hardLinks = new Map<string, { name: string; stored: StoredFile | undefined }>();
  const { onBytes } = options;
  const warn = (kind: PackWarning["kind"], name: string, detail: string) =>
    options.onWarning?.({ kind, name, detail });
  const nameOf = (rel: string) => rel === "" ? top : `${top}/${rel}`;

  /** Stores a regular file; returns the bytes stored, or none when it was not there to read. */
  const addFile = async (entry: WalkEntry, name: string): Promise<number | undefined> => {
    const key = `${entry.info.dev}:${entry.info.ino}`;
    const first = entry.info.nlink !== null && entry.info.nlink > 1
      ? hardLinks.get(key)
      : undefined;
    if (first !== undefined) {
      await tar.add(
        linkHeader(entry, name, { type: "link", target: first.name, owners: options.owners }),
      );
      stats.entries++;
      if (first.stored) options.onStored?.({ ...first.stored, rel: entry.rel });
      return first.stored?.size ?? 0;
    }
    let opened: SourceFile;
    try {
      const file = openAsSeen(entry.path, entry.info);
      if (file === "gone") {
        warn("vanished", name, "vanished before it was read");
        return undefined;
      }
      if (file === "replaced") {
        warn("changed", name, "changed while read: replaced by a link or another file; not stored");
        return undefined;
      }
      opened = file;
    } catch (err) {
      throw describeOpenError(entry.path, err);
    }
    try {
      const header = baseHeader(opened, name, options.owners);
      header.type = "file";
      header.size = opened.size;
      if (options.signal?.aborted) throw options.signal.reason;
      const entryWriter = await tar.begin(header);
      const hash = options.onStored ? createHash("sha256") : undefined;
      let change: PackWarning["kind"] | undefined = await readExactly(
        opened,
        opened.size,
        entryWriter,
        {
          ...(hash || onBytes
            ? { onChunk: (chunk: Uint8Array) => (hash?.update(chunk), onBytes?.(chunk.length)) }
            : {}),
          ...(options.signal ? { signal: options.signal } : {}),
        },
      );
      await entryWriter.end();
      stats.bytes += opened.size;
      stats.entries++;
      stats.files++;
      if (change === undefined) {
        if (opened.mtimeMsNow() !== opened.mtime.getTime()) change = "changed";
      }
      if (change === "grew") {
        warn("grew", name, `grew while read; stored cut to ${opened.size} bytes`);
      }
      if (change === "shrank") {
        warn("shrank", name, `shrank while read; stored padded with zeros to ${opened.size} bytes`);
      }
      if (change === "changed") warn("changed", name, "changed while read");
      const stored = hash && {
        rel: entry.rel,
        size: opened.size,
        mtimeMs: header.mtime?.getTime() ?? 0,
        sha256: hash.digest("hex"),
      };
      if (stored) options.onStored?.(stored);
      if (opened.nlink > 1) hardLinks.set(key, { name, stored });
      return opened.size;
    } finally {
      opened.close();
    }
  };

  const addEntry = async (entry: WalkEntry): Promise<void> => {
    const path = nameOf(entry.rel);
    const { info } = entry;
    if (info.isDirectory) {
      const header = baseHeader(entry.info, `${path}/`, options.owners);
      header.type = "directory";
      await tar.add(header);
      stats.entries++;
    } else if (info.isSymlink) {
      let target: string;
      try {
        target = Deno.readLinkSync(entry.path);
      } catch (err) {
        if (err instanceof Deno.errors.NotFound) {
          return warn("vanished", path, "vanished before it was read");
        }
        // EINVAL: no longer a link, swapped for a file since the walk saw it.
        if (!isSymlinkNow(entry.path)) {
          return warn("changed", path, "changed while read: no longer a link; not stored");
        }
        throw describeOpenError(entry.path, err);
      }
      await tar.add(linkHeader(entry, path, { type: "symlink", target, owners: options.owners }));
      stats.entries++;
    } else if (info.isFile) {
      await addFile(entry, path);
    } else {
      warn("skipped", path, `skipped: a ${info.special ?? "special file"} cannot be archived`);
    }
  };

  const lookHeader = (rel: string, look: EntryLook): TarHeader => {
    const pax: Record<string, string> = {};
    const header: TarHeader = {
      name: nameOf(rel),
      size: 0,
      mode: look.mode & 0o7777,
      uid: look.uid,
      gid: look.gid,
      mtime: timeFields(new Date(look.mtimeMs), pax),
      pax,
    };
    const uname = options.owners?.user(look.uid);
    const gname = options.owners?.group(look.gid);
    if (uname !== undefined) header.uname = uname;
    if (gname !== undefined) header.gname = gname;
    return header;
  };

  const appender: PackAppender = {
    file: async (rel, path) => {
      let info: EntryInfo;
      try {
        info = entryInfo(Deno.lstatSync(path));
      } catch (err) {
        if (err instanceof Deno.errors.NotFound) return undefined;
        throw describeOpenError(path, err);
      }
      return await addFile({ rel, path, info }, nameOf(rel));
    },
    content: async (rel, content, look) => {
      const header = { ...lookHeader(rel, look), type: "file" as const, size: content.length };
      const entryWriter = await tar.begin(header);
      await entryWriter.copy(content);
      await entryWriter.end();
      stats.entries++;
      stats.files++;
      stats.bytes += content.length;
      if (options.onStored) {
        options.onStored({
          rel,
          size: content.length,
          mtimeMs: header.mtime?.getTime() ?? 0,
          sha256: createHash("sha256").update(content).digest("hex"),
        });
      }
    },
    folder: async (rel, look) => {
      const header = lookHeader(rel, look);
      await tar.add({ ...header, name: `${header.name}/`, type: "directory" });
      stats.entries++;
    },
  };

  return {
    add: addEntry,
    stats: () => ({ ...stats }),
    async end() {
      await options.finish?.(appender);
      await tar.finish();
      return { ...stats };
    },
  };
}
