// Turns a folder tree into a POSIX tar stream with modern-tar's packer: pax records where
// ustar is not enough, each file read through readExactly so a changing file never breaks it.

import { createTarPacker, type TarHeader, type TarPackController } from "modern-tar";
import { RunError } from "./errors.ts";
import { readExactly, slabAllocator } from "./exact_reader.ts";
import { noteGarbage } from "./gc.ts";
import type { OwnerNames } from "./owners.ts";
import { type FolderId, type WalkEntry, walkTree } from "./walk.ts";

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

/** Options of {@linkcode packTree}. */
export interface PackOptions {
  /** True for relative paths to leave out. */
  exclude?: (rel: string) => boolean;
  /** Folders to leave out wherever they are (DEST inside SOURCE). */
  skipFolders?: readonly FolderId[];
  /** User and group names for the headers. */
  owners?: OwnerNames;
  /** Told of each path that could not be stored as it was. */
  onWarning?: (warning: PackWarning) => void;
  /** Told of each chunk of file content written, with its length. */
  onBytes?: (n: number) => void;
  /** Stops the pack between chunks. */
  signal?: AbortSignal;
}

const USTAR_MAX_SECONDS = 0o77777777777;
/** What one entry leaves to the garbage collector, besides its content: about 2 KiB. */
const ENTRY_GARBAGE = 2048;
// deno-lint-ignore no-control-regex
const NON_ASCII = /[^\x00-\x7f]/;

/** The mtime a header carries, with a pax record where ustar's whole seconds do not suffice. */
function timeFields(mtime: Date | null, pax: Record<string, string>): Date {
  const ms = mtime?.getTime() ?? 0;
  const seconds = Math.floor(ms / 1000);
  const fits = seconds >= 0 && seconds <= USTAR_MAX_SECONDS;
  if (ms % 1000 !== 0 || !fits) pax.mtime = (ms / 1000).toFixed(3).replace(/\.?0+$/, "");
  return new Date(fits ? seconds * 1000 : 0);
}

function baseHeader(entry: WalkEntry, name: string, owners: OwnerNames | undefined): TarHeader {
  const { info } = entry;
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
function linkHeader(
  entry: WalkEntry,
  name: string,
  link: { type: "link" | "symlink"; target: string; owners: OwnerNames | undefined },
): TarHeader {
  const header = baseHeader(entry, name, link.owners);
  header.type = link.type;
  header.linkname = link.target;
  if (NON_ASCII.test(link.target)) header.pax = { ...header.pax, linkpath: link.target };
  return header;
}

async function addBodyless(controller: TarPackController, header: TarHeader): Promise<void> {
  await controller.add(header).close();
}

function specialKind(info: Deno.FileInfo): string | undefined {
  if (info.isSocket) return "socket";
  if (info.isFifo) return "FIFO";
  if (info.isBlockDevice) return "block device";
  if (info.isCharDevice) return "character device";
  return undefined;
}

function describeOpenError(path: string, err: unknown): RunError {
  const reason = err instanceof Deno.errors.PermissionDenied ? "permission denied" : String(err);
  return new RunError(`Cannot read "${path}": ${reason}`, { cause: err });
}

/**
 * Streams `root` as a tar archive whose entries are named `<top>/<path>`.
 *
 * @example
 * ```ts
 * const { readable, done } = packTree("/data", "data");
 * await readable.pipeTo((await Deno.create("/tmp/data.tar")).writable);
 * console.log(await done);
 * ```
 */
export function packTree(
  root: string,
  top: string,
  options: PackOptions = {},
): { readable: ReadableStream<Uint8Array>; done: Promise<PackStats> } {
  const { readable, controller } = createTarPacker();
  const stats: PackStats = { entries: 0, files: 0, bytes: 0 };
  const hardLinks = new Map<string, string>();
  const alloc = slabAllocator();
  const warn = (kind: PackWarning["kind"], name: string, detail: string) =>
    options.onWarning?.({ kind, name, detail });

  const addFile = async (entry: WalkEntry, name: string): Promise<void> => {
    const key = `${entry.info.dev}:${entry.info.ino}`;
    const target = entry.info.nlink !== null && entry.info.nlink > 1
      ? hardLinks.get(key)
      : undefined;
    if (target !== undefined) {
      await addBodyless(
        controller,
        linkHeader(entry, name, { type: "link", target, owners: options.owners }),
      );
      stats.entries++;
      return;
    }
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(entry.path, { read: true });
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        return warn("vanished", name, "vanished before it was read");
      }
      throw describeOpenError(entry.path, err);
    }
    try {
      const opened = file.statSync();
      if (!opened.isFile) return warn("vanished", name, "was replaced before it was read");
      const header = baseHeader({ ...entry, info: opened }, name, options.owners);
      header.type = "file";
      header.size = opened.size;
      const writer = controller.add(header).getWriter();
      let change: PackWarning["kind"] | undefined;
      const chunks = readExactly(file, opened.size, { onChange: (c) => change = c, alloc });
      for (const chunk of chunks) {
        if (options.signal?.aborted) throw options.signal.reason;
        await writer.write(chunk);
        stats.bytes += chunk.length;
        options.onBytes?.(chunk.length);
      }
      await writer.close();
      stats.entries++;
      stats.files++;
      if (change === undefined) {
        const after = file.statSync();
        if (after.mtime?.getTime() !== opened.mtime?.getTime()) change = "changed";
      }
      if (change === "grew") {
        warn("grew", name, `grew while read; stored cut to ${opened.size} bytes`);
      }
      if (change === "shrank") {
        warn("shrank", name, `shrank while read; stored padded with zeros to ${opened.size} bytes`);
      }
      if (change === "changed") warn("changed", name, "changed while read");
      if (opened.nlink !== null && opened.nlink > 1) hardLinks.set(key, name);
    } finally {
      file.close();
    }
  };

  const addEntry = async (entry: WalkEntry): Promise<void> => {
    // Each entry leaves header blocks and stream objects behind, whatever its size.
    noteGarbage(ENTRY_GARBAGE);
    const path = entry.rel === "" ? top : `${top}/${entry.rel}`;
    const { info } = entry;
    if (info.isDirectory) {
      const header = baseHeader(entry, `${path}/`, options.owners);
      header.type = "directory";
      await addBodyless(controller, header);
      stats.entries++;
    } else if (info.isSymlink) {
      let target: string;
      try {
        target = Deno.readLinkSync(entry.path);
      } catch (err) {
        if (err instanceof Deno.errors.NotFound) {
          return warn("vanished", path, "vanished before it was read");
        }
        throw describeOpenError(entry.path, err);
      }
      await addBodyless(
        controller,
        linkHeader(entry, path, { type: "symlink", target, owners: options.owners }),
      );
      stats.entries++;
    } else if (info.isFile) {
      await addFile(entry, path);
    } else {
      warn("skipped", path, `skipped: a ${specialKind(info) ?? "special file"} cannot be archived`);
    }
  };

  const done = (async () => {
    try {
      const walk = walkTree(root, {
        ...(options.exclude ? { exclude: options.exclude } : {}),
        ...(options.skipFolders ? { skipFolders: options.skipFolders } : {}),
        onVanished: (rel) => warn("vanished", `${top}/${rel}`, "vanished before it was read"),
      });
      for await (const entry of walk) {
        if (options.signal?.aborted) throw options.signal.reason;
        await addEntry(entry);
      }
      controller.finalize();
      return stats;
    } catch (err) {
      controller.error(err);
      throw err;
    }
  })();
  return { readable, done };
}
