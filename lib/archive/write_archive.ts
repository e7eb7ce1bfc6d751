// The archive step: SOURCE -> tar -> gzip -> (age) -> sha256 -> an atomic file and its sidecar.
// Nothing appears under a final name until both are complete and fsync'ed.

import { basename } from "node:path";
import { type PartialFile, syncFolder, writePartial } from "../store/atomic_file.ts";
import { excludeMatcher } from "../base/glob.ts";
import { compress } from "../codec/compress.ts";
import { encryptStream } from "../codec/encryption.ts";
import { startCodecPool } from "../codec/codec_pool.ts";
import { RunError } from "../base/errors.ts";
import { type Compression, sidecarName, sidecarText } from "../store/names.ts";
import { loadOwnerNames } from "./owners.ts";
import type { Folders } from "./folders.ts";
import type { ProgressBar } from "../base/progress.ts";
import { type PackAppender, packTree, type PackWarning, type StoredFile } from "./tar_pack.ts";
import { treeBytes } from "./walk.ts";

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
  const excluded = excludeMatcher(options.excludes);
  const { online } = options;
  const exclude = online ? (rel: string) => excluded(rel) || online.exclude(rel) : excluded;
  const bar = options.progress?.(
    await treeBytes(folders.source, { exclude, skipFolders: folders.skip }),
  );
  const pack = packTree(folders.source, basename(folders.source) || "root", {
    exclude,
    skipFolders: folders.skip,
    owners: await loadOwnerNames(),
    onWarning: options.onWarning,
    ...(bar ? { onBytes: (n: number) => bar.add(n) } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(online ? { onStored: online.onStored, finish: online.finish } : {}),
  });
  // The stream carries the same error; this keeps the promise from rejecting unobserved.
  pack.done.catch(() => undefined);
  using pool = startCodecPool();
  const compressed = compress(pack.readable, pool, options.compression ?? "gzip");
  const stored = options.recipients?.length
    ? await encryptStream(compressed, options.recipients)
    : compressed;
  try {
    const archive = await writePartial(dayDir, name, stored).catch((err) => {
      if (err instanceof Error && "code" in err && err.code === "ENOSPC") {
        throw new RunError(
          `Cannot write "${dayDir}/${name}": no space left on device (the partial file was removed)`,
          {
            cause: err,
          },
        );
      }
      throw err;
    });
    let sidecar: PartialFile | undefined;
    try {
      const stats = await pack.done;
      const text = new TextEncoder().encode(sidecarText(archive.sha256, name));
      sidecar = await writePartial(dayDir, sidecarName(name), ReadableStream.from([text]));
      await archive.commit();
      await sidecar.commit();
      await syncFolder(dayDir);
      await syncFolder(folders.dest);
      return {
        files: stats.files,
        bytesIn: stats.bytes,
        bytesOut: archive.bytes,
        sha256: archive.sha256,
      };
    } finally {
      // After the commits there is nothing left to remove; after a failure, the partials go.
      await archive.discard();
      await sidecar?.discard();
    }
  } finally {
    bar?.stop();
  }
}
