// The archive step: SOURCE -> tar -> gzip -> (age) -> sha256 -> an atomic file and its sidecar.
// Nothing appears under a final name until both are complete and fsync'ed.

import { basename } from "node:path";
import { type PartialFile, syncFolder, writePartial } from "../store/atomic_file.ts";
import { excludeMatcher } from "../base/glob.ts";
import { blockOutput } from "../codec/block_output.ts";
import { type ArchiveFile, openArchiveFile, SinkError } from "../codec/archive_file.ts";
import { type CodecPool, startCodecPool } from "../codec/codec_pool.ts";
import { RunError } from "../base/errors.ts";
import { type Compression, sidecarName, sidecarText } from "../store/names.ts";
import { loadOwnerNames } from "./owners.ts";
import type { Folders } from "./folders.ts";
import type { ProgressBar } from "../base/progress.ts";
import type { PackAppender, PackStats, PackWarning, StoredFile } from "./tar_pack.ts";
import { packParallel } from "./parallel_pack.ts";
import { listTree, type WalkEntry } from "./walk.ts";

/** A database's own backup around the copy (README: Consistency). */
export interface OnlineCopy {
  /** True for paths relative to SOURCE that the copy leaves out. */
  exclude(rel: string): boolean;
  /** Told of each regular file stored, with its sha256. */
  onStored(file: StoredFile): void;
  /** Ends the database's backup and adds what it returns, after the walk. */
  finish(append: PackAppender): Promise<void>;
}

/** Options of {@linkcode writeArchive}. */
export interface ArchiveOptions {
  /** Exclude globs, relative to SOURCE. */
  excludes: readonly string[];
  /** How to compress. @default {"gzip"} */
  compression?: Compression;
  /** Told of each path that could not be stored as it was. */
  onWarning: (warning: PackWarning) => void;
  /** Checks, once SOURCE has been walked, that DEST has room for its bytes. */
  checkSpace?: (sourceBytes: number) => Promise<void>;
  /** Starts a progress bar for a total byte count; none when absent. */
  progress?: (totalBytes: number) => ProgressBar;
  /** Abandons the archive; its partial file is removed. */
  signal?: AbortSignal;
  /** age public keys: when any is given, the archive is encrypted to all of them. */
  recipients?: readonly string[];
  /** A database backup around the copy. */
  online?: OnlineCopy;
}

/** A written archive. */
export interface ArchiveResult {
  /** Regular files stored. */
  files: number;
  /** Bytes of file content read. */
  bytesIn: number;
  /** Bytes of the archive. */
  bytesOut: number;
  /** sha256 of the archive, hex. */
  sha256: string;
}

/**
 * Archives `folders.source` as `dayDir/name` with its `.sha256` sidecar.
 *
 * @example
 * ```ts ignore
 * const result = await writeArchive(folders, "/backup/2027-01-02", "01-00-00.tar.gz", {
 *   excludes: [],
 *   onWarning: (w) => console.warn(w.detail),
 * });
 * ```
 */
export async function writeArchive(
  folders: Folders,
  dayDir: string,
  name: string,
  options: ArchiveOptions,
): Promise<ArchiveResult> {
  const top = basename(folders.source) || "root";
  // The workers start while SOURCE is walked.
  using pool = startCodecPool(undefined, new URL("./pack_worker.ts", import.meta.url));
  // The one walk of SOURCE: its total serves the free-space check and the progress bar.
  const listing = await walkSource(folders, top, options);
  await options.checkSpace?.(listing.bytes);
  const bar = options.progress?.(listing.bytes);
  try {
    const file = openArchiveFile(pool, dayDir, name, options.recipients ?? []);
    const { stats, archive } = await pack(listing.entries, top, file, pool, {
      ...options,
      ...(bar ? { onBytes: (n: number) => bar.add(n) } : {}),
    }).catch(async (err) => {
      await file.abort();
      if (err instanceof SinkError && err.code === "ENOSPC") {
        throw new RunError(
          `Cannot write "${dayDir}/${name}": no space left on device (the partial file was removed)`,
          { cause: err },
        );
      }
      throw err;
    });
    const sha256 = await commitWithSidecar(archive, folders.dest, dayDir, name);
    return { files: stats.files, bytesIn: stats.bytes, bytesOut: archive.bytes, sha256 };
  } finally {
    bar?.stop();
  }
}

/** SOURCE walked once, what is excluded left out; what cannot be archived is warned of. */
function walkSource(folders: Folders, top: string, options: ArchiveOptions) {
  const excluded = excludeMatcher(options.excludes);
  const { online, onWarning } = options;
  const nameOf = (rel: string) => rel === "" ? top : `${top}/${rel}`;
  return listTree(folders.source, {
    exclude: online ? (rel: string) => excluded(rel) || online.exclude(rel) : excluded,
    skipFolders: folders.skip,
    onVanished: (rel) =>
      onWarning({ kind: "vanished", name: nameOf(rel), detail: "vanished before it was read" }),
    onBadName: (rel) =>
      onWarning({
        kind: "skipped",
        name: nameOf(rel).replaceAll("\uFFFD", "\\ufffd"),
        detail:
          "skipped: the name is not valid UTF-8 (\\ufffd marks the bytes), which backupd cannot open; rename it to archive it",
      }),
    onReplaced: (rel) =>
      onWarning({
        kind: "changed",
        name: nameOf(rel),
        detail: "changed while read: the folder was replaced; its contents are not stored",
      }),
  });
}

/** The walked entries packed, compressed and written into the archive's partial file. */
async function pack(
  entries: WalkEntry[],
  top: string,
  file: ArchiveFile,
  pool: CodecPool,
  options: ArchiveOptions & { onBytes?: (n: number) => void },
): Promise<{ stats: PackStats; archive: PartialFile }> {
  const compression = options.compression ?? "gzip";
  const { online, onBytes, signal } = options;
  const stats = await packParallel(
    entries,
    top,
    blockOutput(pool, compression, file),
    pool,
    compression,
    {
      owners: await loadOwnerNames(),
      onWarning: options.onWarning,
      ...(onBytes ? { onBytes } : {}),
      ...(signal ? { signal } : {}),
      ...(online ? { onStored: online.onStored, finish: online.finish } : {}),
    },
  );
  return { stats, archive: await file.end() };
}

/**
 * The archive and its sidecar renamed into place and their folders fsync'ed; the archive's
 * sha256. After a failure the partials are removed.
 */
async function commitWithSidecar(
  archive: PartialFile,
  dest: string,
  dayDir: string,
  name: string,
): Promise<string> {
  let sidecar: PartialFile | undefined;
  try {
    const text = new TextEncoder().encode(sidecarText(archive.sha256, name));
    sidecar = await writePartial(dayDir, sidecarName(name), ReadableStream.from([text]));
    await archive.commit();
    await sidecar.commit();
    await syncFolder(dayDir);
    await syncFolder(dest);
    return archive.sha256;
  } finally {
    // After the commits there is nothing left to remove; after a failure, the partials go.
    await archive.discard();
    await sidecar?.discard();
  }
}
