// Where the commands find archives: DEST's list, the bucket of --s3-url, an archive named
// by path, by name under DEST or by s3:// address; and the age identities to read them.

import { basename, resolve } from "node:path";
import { writePartial } from "../store/atomic_file.ts";
import { RunError, UsageError } from "../base/errors.ts";
import { parseArchivePath, sidecarName } from "../store/names.ts";
import { readIdentities } from "../codec/encryption.ts";
import { statIfPresent } from "../base/files.ts";
import type { RemoteStore } from "../offsite/s3_store.ts";
import { parseS3Url } from "../offsite/s3_url.ts";
import { openBucket } from "../run/offsite_step.ts";
import type { Settings } from "../settings/settings.ts";
import { localStore } from "../store/local_store.ts";

/** The bucket of `--s3-url`, or a usage error saying it is needed for `what`. */
export async function configuredRemote(settings: Settings, what: string): Promise<RemoteStore> {
  if (!settings.s3) {
    throw new UsageError(`Cannot ${what}: give --s3-url s3://BUCKET/PREFIX (or BACKUP_S3_URL)`);
  }
  return await openBucket(settings, settings.s3);
}

/** An archive named by `s3://BUCKET/PREFIX/YYYY-MM-DD/NAME`: its bucket and its path. */
export async function remoteArchiveAt(
  settings: Settings,
  url: string,
): Promise<{ store: RemoteStore; path: string }> {
  const target = parseS3Url(url, "the archive");
  const parts = target.prefix.split("/");
  const archive = parseArchivePath(parts.slice(-2).join("/"));
  if (!archive) {
    throw new UsageError(
      `Cannot find the archive "${url}": expected s3://BUCKET/PREFIX/YYYY-MM-DD/HH-MM-SS.tar.gz[.age]`,
    );
  }
  const store = await openBucket(settings, {
    bucket: target.bucket,
    prefix: parts.slice(0, -2).join("/"),
  });
  return { store, path: archive.path };
}

/** The age identities of `--age-identity`, read, when one is given. */
export async function identitiesOf(settings: Settings): Promise<{ identities?: string[] }> {
  return settings.ageIdentityFile
    ? { identities: await readIdentities(settings.ageIdentityFile) }
    : {};
}

/**
 * DEST as a folder that is there, or a failure naming it: a mistyped DEST is not an empty
 * one, and must not look like success.
 */
export async function existingDest(settings: Settings, what: string): Promise<string> {
  const dest = resolve(settings.dest);
  const info = await statIfPresent(dest, { follow: true });
  if (!info) throw new RunError(`Cannot ${what}: DEST "${dest}" does not exist`);
  if (!info.isDirectory) throw new RunError(`Cannot ${what}: DEST "${dest}" is not a folder`);
  return dest;
}

/** The name that stands for the newest archive, for verify and restore. */
export const LATEST = "latest";

/**
 * Finds an archive named on the command line: `latest` (the newest under DEST), a path,
 * or a name relative to DEST.
 */
export async function locate(dest: string, name: string): Promise<string> {
  if (name === LATEST) {
    const newest = (await localStore(dest).list()).at(-1);
    if (!newest) {
      throw new RunError(`Cannot find the latest archive: there is none under "${dest}"`);
    }
    return `${dest}/${newest.path}`;
  }
  for (const candidate of [resolve(name), `${dest}/${name}`]) {
    if ((await statIfPresent(candidate, { follow: true }))?.isFile) return candidate;
  }
  throw new UsageError(`Cannot find the archive "${name}" (as a path, or under "${dest}")`);
}

/** An archive downloaded from the bucket, its sha256 taken on the way to the disk. */
export interface Downloaded {
  /** The file, with its sidecar beside it when the bucket had one. */
  file: string;
  /** Its sha256, to be checked against the sidecar before anything is restored. */
  sha256: string;
  /** Its bytes. */
  bytes: number;
}

/**
 * Downloads `path` of the bucket (and its sidecar) into the folder `dir`.
 *
 * @example
 * ```ts ignore
 * const { file, sha256 } = await downloadArchive(store, "2026-12-03/01-00-00.tar.gz", "/tmp/dl");
 * ```
 */
export async function downloadArchive(
  store: RemoteStore,
  path: string,
  dir: string,
): Promise<Downloaded> {
  const file = `${dir}/${basename(path)}`;
  const sidecar = await store.getText(sidecarName(path));
  if (sidecar !== undefined) await Deno.writeTextFile(sidecarName(file), sidecar);
  const body = await store.open(path);
  if (body === undefined) throw new RunError(`Cannot restore "${store.url(path)}": no such object`);
  const downloaded = await writePartial(dir, basename(path), body);
  await downloaded.commit();
  return { file, sha256: downloaded.sha256, bytes: downloaded.bytes };
}
