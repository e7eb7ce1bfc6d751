// Files that appear under their final name only when complete: written as a hidden
// `.partial`, fsync'ed, renamed, and the folder fsync'ed; removed on any failure.

import { createHash } from "node:crypto";
import { partialName } from "./names.ts";

/** What was written. */
export interface WrittenFile {
  /** Bytes written. */
  bytes: number;
  /** sha256 of those bytes, lower-case hex. */
  sha256: string;
}

/** Options of {@linkcode writePartial}. */
export interface WriteOptions {
  /** File mode. @default {0o600} */
  mode?: number;
  /** Told of each chunk written, with its length. */
  onBytes?: (n: number) => void;
}

/** A complete, fsync'ed file under its partial name, waiting to be renamed into place. */
export interface PartialFile extends WrittenFile {
  /** The partial file's path. */
  path: string;
  /** Renames it to its final name. */
  commit(): Promise<void>;
  /** Removes it. */
  discard(): Promise<void>;
}

/**
 * Removes a file, treating one already gone as removed.
 *
 * @example
 * ```ts ignore
 * await removeIfPresent("/backup/2027-01-02/.01-00-00.tar.gz.partial");
 * ```
 */
export async function removeIfPresent(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch (err) {
    // Already gone is the state we wanted.
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

/**
 * Fsyncs a folder, so a rename inside it survives a crash.
 *
 * @example
 * ```ts ignore
 * await syncFolder("/backup/2027-01-02");
 * ```
 */
export async function syncFolder(dir: string): Promise<void> {
  using folder = await Deno.open(dir, { read: true });
  await folder.sync();
}

async function writeAll(file: Deno.FsFile, chunk: Uint8Array): Promise<void> {
  let rest = chunk;
  while (rest.length > 0) rest = rest.subarray(await file.write(rest));
}

/**
 * Writes a stream to `dir/.name.partial`, hashing it on the way; the result is fsync'ed and
 * ready to `commit()` under `dir/name`. On failure the partial file is gone.
 *
 * @example
 * ```ts ignore
 * const partial = await writePartial("/backup/2027-01-02", "01-00-00.tar.gz", stream);
 * await partial.commit();
 * ```
 */
export async function writePartial(
  dir: string,
  name: string,
  stream: ReadableStream<Uint8Array>,
  options: WriteOptions = {},
): Promise<PartialFile> {
  const path = `${dir}/${partialName(name)}`;
  const hash = createHash("sha256");
  let bytes = 0;
  const file = await Deno.open(path, { write: true, createNew: true, mode: options.mode ?? 0o600 });
  try {
    for await (const chunk of stream) {
      hash.update(chunk);
      await writeAll(file, chunk);
      bytes += chunk.length;
      options.onBytes?.(chunk.length);
    }
    await file.sync();
  } catch (err) {
    file.close();
    await removeIfPresent(path);
    throw err;
  }
  file.close();
  return {
    path,
    bytes,
    sha256: hash.digest("hex"),
    commit: () => Deno.rename(path, `${dir}/${name}`),
    discard: () => removeIfPresent(path),
  };
}
