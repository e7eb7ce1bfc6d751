// Turns the entries of a walk into a POSIX tar stream (tar_format.ts): pax records
// where ustar is not enough, each file read through readExactly so a changing file never
// breaks it, straight into the blocks that are compressed.

import { createHash } from "node:crypto";
import type { TarHeader } from "../base/tar_header.ts";
import type { TarOut } from "../codec/block_output.ts";
import { readExactly } from "./exact_reader.ts";
import { describeOpenError, isSymlinkNow, openAsSeen, type SourceFile } from "./source_file.ts";
import type { OwnerNames } from "./owners.ts";
import { type EntryInfo, entryInfo, type WalkEntry } from "./walk.ts";
import { type TarStream, tarStream } from "./tar_stream.ts";
import { baseHeader, type EntryLook, linkHeader } from "./tar_headers.ts";

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
  return new EntryPacker(top, out, options);
}

/** The {@linkcode TarPacker} of {@linkcode tarPacker}: one method per kind of entry. */
class EntryPacker implements TarPacker, PackAppender {
  readonly #top: string;
  readonly #tar: TarStream;
  readonly #options: PackOptions;
  readonly #stats: PackStats = { entries: 0, files: 0, bytes: 0 };
  /** Files with more than one link, by device and inode: the first name, and what it stored. */
  readonly #hardLinks = new Map<string, { name: string; stored: StoredFile | undefined }>();

  constructor(top: string, out: TarOut, options: PackOptions) {
    this.#top = top;
    this.#tar = tarStream(out);
    this.#options = options;
  }

  /** Writes one entry of the walk, by its kind; a socket, FIFO or device is skipped. */
  async add(entry: WalkEntry): Promise<void> {
    const name = this.#nameOf(entry.rel);
    const { info } = entry;
    if (info.isDirectory) return await this.#folder(entry, name);
    if (info.isSymlink) return await this.#symlink(entry, name);
    if (info.isFile) return void await this.#file(entry, name);
    this.#warn("skipped", name, `skipped: a ${info.special ?? "special file"} cannot be archived`);
  }

  stats(): PackStats {
    return { ...this.#stats };
  }

  async end(): Promise<PackStats> {
    await this.#options.finish?.(this);
    await this.#tar.finish();
    return this.stats();
  }

  /** {@linkcode PackAppender.file}: a file added after the walk, read exactly. */
  async file(rel: string, path: string): Promise<number | undefined> {
    let info: EntryInfo;
    try {
      info = entryInfo(Deno.lstatSync(path));
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return undefined;
      throw describeOpenError(path, err);
    }
    return await this.#file({ rel, path, info }, this.#nameOf(rel));
  }

  /** {@linkcode PackAppender.content}: bytes added as a regular file. */
  async content(rel: string, content: Uint8Array, look: EntryLook): Promise<void> {
    const header = { ...this.#lookHeader(rel, look), type: "file" as const, size: content.length };
    const entryWriter = await this.#tar.begin(header);
    await entryWriter.copy(content);
    await entryWriter.end();
    this.#counted(content.length);
    this.#options.onStored?.({
      rel,
      size: content.length,
      mtimeMs: header.mtime?.getTime() ?? 0,
      sha256: createHash("sha256").update(content).digest("hex"),
    });
  }

  /** {@linkcode PackAppender.folder}: a folder that has no folder of its own on disk. */
  async folder(rel: string, look: EntryLook): Promise<void> {
    const header = this.#lookHeader(rel, look);
    await this.#tar.add({ ...header, name: `${header.name}/`, type: "directory" });
    this.#stats.entries++;
  }

  async #folder(entry: WalkEntry, name: string): Promise<void> {
    const header = baseHeader(entry.info, `${name}/`, this.#options.owners);
    header.type = "directory";
    await this.#tar.add(header);
    this.#stats.entries++;
  }

  async #symlink(entry: WalkEntry, name: string): Promise<void> {
    let target: string;
    try {
      target = Deno.readLinkSync(entry.path);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        return this.#warn("vanished", name, "vanished before it was read");
      }
      // EINVAL: no longer a link, swapped for a file since the walk saw it.
      if (!isSymlinkNow(entry.path)) {
        return this.#warn("changed", name, "changed while read: no longer a link; not stored");
      }
      throw describeOpenError(entry.path, err);
    }
    const owners = this.#options.owners;
    await this.#tar.add(linkHeader(entry, name, { type: "symlink", target, owners }));
    this.#stats.entries++;
  }

  /** Stores a regular file; returns the bytes stored, or none when it was not there to read. */
  async #file(entry: WalkEntry, name: string): Promise<number | undefined> {
    const key = `${entry.info.dev}:${entry.info.ino}`;
    const first = entry.info.nlink !== null && entry.info.nlink > 1
      ? this.#hardLinks.get(key)
      : undefined;
    if (first !== undefined) return await this.#hardLink(entry, name, first);
    const opened = this.#open(entry, name);
    if (opened === undefined) return undefined;
    try {
      const stored = await this.#content(entry, name, opened);
      if (opened.nlink > 1) this.#hardLinks.set(key, { name, stored });
      return opened.size;
    } finally {
      opened.close();
    }
  }

  /** A further name of a file already stored: a hard link to its first name. */
  async #hardLink(
    entry: WalkEntry,
    name: string,
    first: { name: string; stored: StoredFile | undefined },
  ): Promise<number> {
    const owners = this.#options.owners;
    await this.#tar.add(linkHeader(entry, name, { type: "link", target: first.name, owners }));
    this.#stats.entries++;
    if (first.stored) this.#options.onStored?.({ ...first.stored, rel: entry.rel });
    return first.stored?.size ?? 0;
  }

  /** The file opened as the walk saw it; none, with a warning, when it is gone or replaced. */
  #open(entry: WalkEntry, name: string): SourceFile | undefined {
    let file: SourceFile | "gone" | "replaced";
    try {
      file = openAsSeen(entry.path, entry.info);
    } catch (err) {
      throw describeOpenError(entry.path, err);
    }
    if (file === "gone") {
      this.#warn("vanished", name, "vanished before it was read");
      return undefined;
    }
    if (file === "replaced") {
      this.#warn(
        "changed",
        name,
        "changed while read: replaced by a link or another file; not stored",
      );
      return undefined;
    }
    return file;
  }

  /** The file's header and exactly `size` bytes of it; what changed while it was read is told. */
  async #content(
    entry: WalkEntry,
    name: string,
    opened: SourceFile,
  ): Promise<StoredFile | undefined> {
    const { onBytes, onStored, signal } = this.#options;
    const header = baseHeader(opened, name, this.#options.owners);
    header.type = "file";
    header.size = opened.size;
    if (signal?.aborted) throw signal.reason;
    const entryWriter = await this.#tar.begin(header);
    const hash = onStored ? createHash("sha256") : undefined;
    let change: PackWarning["kind"] | undefined = await readExactly(
      opened,
      opened.size,
      entryWriter,
      {
        ...(hash || onBytes
          ? { onChunk: (chunk: Uint8Array) => (hash?.update(chunk), onBytes?.(chunk.length)) }
          : {}),
        ...(signal ? { signal } : {}),
      },
    );
    await entryWriter.end();
    this.#counted(opened.size);
    if (change === undefined && opened.mtimeMsNow() !== opened.mtime.getTime()) change = "changed";
    if (change !== undefined) this.#warn(change, name, CHANGE_DETAILS[change](opened.size));
    const stored = hash && {
      rel: entry.rel,
      size: opened.size,
      mtimeMs: header.mtime?.getTime() ?? 0,
      sha256: hash.digest("hex"),
    };
    if (stored) onStored?.(stored);
    return stored;
  }

  /** The header of an entry that has no file of its own on disk. */
  #lookHeader(rel: string, look: EntryLook): TarHeader {
    const info = { mode: look.mode, uid: look.uid, gid: look.gid, mtime: new Date(look.mtimeMs) };
    return baseHeader(info, this.#nameOf(rel), this.#options.owners);
  }

  #counted(bytes: number): void {
    this.#stats.entries++;
    this.#stats.files++;
    this.#stats.bytes += bytes;
  }

  #nameOf(rel: string): string {
    return rel === "" ? this.#top : `${this.#top}/${rel}`;
  }

  #warn(kind: PackWarning["kind"], name: string, detail: string): void {
    this.#options.onWarning?.({ kind, name, detail });
  }
}

/** What a file that changed while it was read is told as. */
const CHANGE_DETAILS: Record<"grew" | "shrank" | "changed", (size: number) => string> = {
  grew: (size) => `grew while read; stored cut to ${size} bytes`,
  shrank: (size) => `shrank while read; stored padded with zeros to ${size} bytes`,
  changed: () => "changed while read",
};
