// The off-site step of a run: every local archive the bucket lacks is uploaded with its
// sidecar and confirmed with HeadObject, with retries; retention then applies to the bucket.

import type { Logger } from "../base/log.ts";
import { type ArchiveName, parseArchivePath, sidecarName, sidecarText } from "../store/names.ts";
import { describeError, RemoteError, RunError } from "../base/errors.ts";
import type { RemoteStore } from "./s3_store.ts";
import { hashFile, readSidecar } from "../store/sidecar.ts";
import { WAL_FOLDER } from "../store/wal_names.ts";

/** A local archive: its name, and its file. */
export interface LocalArchive extends ArchiveName {
  /** The archive's absolute path. */
  file: string;
}

/** Options of {@linkcode uploadMissing}. */
export interface UploadMissingOptions {
  /** Where events go. */
  log: Logger;
  /** Waits between attempts; rejects when `signal` aborts. */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Abandons the uploads. */
  signal?: AbortSignal;
  /** Waits before the second, third, ... attempt. @default {[1000, 4000]} */
  retryDelaysMs?: readonly number[];
}

/**
 * Waits `ms`, or rejects with the signal's reason when it aborts first.
 *
 * @example
 * ```ts ignore
 * await abortableSleep(1000, controller.signal);
 * ```
 */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

async function sha256Of(path: string): Promise<string> {
  const sidecar = await readSidecar(path);
  // A sidecar backupd wrote is the hash of record; without one, hash the file now.
  return "hex" in sidecar ? sidecar.hex : await hashFile(path);
}

/** Uploads one archive and its sidecar, then checks the object's size and sha256. */
async function uploadOne(
  store: RemoteStore,
  archive: LocalArchive & { size: number },
  signal: AbortSignal | undefined,
): Promise<number> {
  const { file, size } = archive;
  const sha256 = await sha256Of(file);
  const parts = await store.upload(file, archive.path, { sha256, ...(signal ? { signal } : {}) });
  const fileName = archive.path.slice(archive.day.length + 1);
  await store.putText(sidecarName(archive.path), sidecarText(sha256, fileName), signal);
  // Some stores (Ceph RGW) answer CompleteMultipartUpload without an ETag: ask again.
  const head = await store.head(archive.path);
  if (head === undefined || head.size !== size || head.sha256 !== sha256) {
    throw new RunError(
      `Cannot confirm the upload of "${store.url(archive.path)}": HeadObject says ${
        head === undefined
          ? "there is no such object"
          : `${head.size} bytes, sha256 ${head.sha256 ?? "missing"}`
      }; the file has ${size} bytes, sha256 ${sha256}`,
    );
  }
  return parts;
}

/**
 * Uploads every archive in `archives` that the bucket lacks, or holds with another size or
 * without its sidecar; newest first. Each is tried again after the delays; the last
 * failure is thrown. Returns the paths uploaded.
 *
 * @example
 * ```ts ignore
 * const archives = (await listArchives("/backup")).map((a) => ({ ...a, file: `/backup/${a.path}` }));
 * await uploadMissing(store, archives, { log, sleep: abortableSleep });
 * ```
 */
export async function uploadMissing(
  store: RemoteStore,
  archives: readonly LocalArchive[],
  options: UploadMissingOptions,
): Promise<string[]> {
  const objects = await retrying(options, "listing the bucket", () => store.objects());
  await abortLeftovers(store, options.log);
  const uploaded: string[] = [];
  for (const archive of [...archives].reverse()) {
    const size = (await Deno.stat(archive.file)).size;
    if (objects.get(archive.path) === size && objects.has(sidecarName(archive.path))) continue;
    const started = performance.now();
    const parts = await retrying(options, `uploading ${archive.path}`, () => {
      options.log.info("upload started", { archive: archive.path, to: store.url(archive.path) });
      return uploadOne(store, { ...archive, size }, options.signal);
    });
    options.log.info("upload done", {
      archive: archive.path,
      to: store.url(archive.path),
      bytes: size,
      parts,
      seconds: Number(((performance.now() - started) / 1000).toFixed(3)),
    });
    uploaded.push(archive.path);
  }
  return uploaded;
}

/**
 * Aborts the multipart uploads that an interrupted run left under the prefix (their parts
 * are billed and invisible); only keys with names backupd writes are touched.
 */
async function abortLeftovers(store: RemoteStore, log: Logger): Promise<void> {
  for (const upload of await store.incompleteUploads()) {
    if (!parseArchivePath(upload.path)) continue;
    await store.abortUpload(upload.path, upload.uploadId);
    log.info("aborted an upload left by an interrupted run", { to: store.url(upload.path) });
  }
}

/** Runs `attempt` until it succeeds or the delays are used up; throws the last failure. */
async function retrying<T>(
  options: UploadMissingOptions,
  what: string,
  attempt: () => Promise<T>,
): Promise<T> {
  const delays = options.retryDelaysMs ?? [1000, 4000];
  for (let n = 0;; n++) {
    try {
      return await attempt();
    } catch (err) {
      const delay = delays[n];
      const permanent = err instanceof RemoteError && err.permanent;
      if (options.signal?.aborted || delay === undefined || permanent) throw err;
      options.log.warn(`${what} failed; trying again`, {
        in_seconds: delay / 1000,
        error: describeError(err),
      });
      await options.sleep(delay, options.signal);
    }
  }
}

/**
 * Uploads DEST/wal/`file` and its sidecar as `wal/FILE` (README: Point-in-time recovery).
 *
 * @example
 * ```ts ignore
 * await uploadWalFile(store, "/backup", "000000010000000000000003.gz");
 * ```
 */
export async function uploadWalFile(
  store: RemoteStore,
  dest: string,
  file: string,
  signal?: AbortSignal,
): Promise<void> {
  const local = `${dest}/${WAL_FOLDER}/${file}`;
  const sidecar = await Deno.readTextFile(sidecarName(local));
  const path = `${WAL_FOLDER}/${file}`;
  await store.upload(local, path, { sha256: sidecar.slice(0, 64), ...(signal ? { signal } : {}) });
  await store.putText(sidecarName(path), sidecar, signal);
}

/**
 * Of the files in DEST/wal/ named, those the bucket lacks (or holds without a sidecar).
 *
 * @example
 * ```ts ignore
 * const missing = await walMissingIn(store, ["000000010000000000000003.gz"]);
 * ```
 */
export async function walMissingIn(
  store: RemoteStore,
  files: readonly string[],
): Promise<string[]> {
  const objects = await store.objects();
  return files.filter((file) => {
    const path = `${WAL_FOLDER}/${file}`;
    return !objects.has(path) || !objects.has(sidecarName(path));
  });
}
