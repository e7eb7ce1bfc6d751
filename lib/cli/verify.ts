// `backupd verify`: one line per archive, local or in the bucket; exit 2 if any fails.

import { basename, resolve } from "node:path";
import { EXIT, RunError } from "../base/errors.ts";
import { sidecarName } from "../store/names.ts";
import type { ArchiveStore } from "../store/archive_store.ts";
import { localStore } from "../store/local_store.ts";
import { hashStream, parseSidecar } from "../store/sidecar.ts";
import { formatBytes } from "../base/bytes.ts";
import type { Settings } from "../settings/settings.ts";
import { verifyArchive, verifyBytes, type VerifyResult } from "../read/verify.ts";
import {
  type CommandIo,
  configuredRemote,
  existingDest,
  identitiesOf,
  LATEST,
  locate,
  remoteArchiveAt,
} from "./archives.ts";

/** One archive to verify: how it is shown, and how to check it. */
/** The age identities to read encrypted archives with, if any. */
type Identities = { identities?: string[] };

interface VerifyJob {
  shown: string;
  check: () => Promise<VerifyResult>;
}

/** Checks an archive file on disk (synchronous reads: the fastest way). */
function fileJob(file: string, shown: string, identities: Identities): VerifyJob {
  return { shown, check: () => verifyArchive(file, identities) };
}

/** Checks an archive of a store: through its file when it has one, else streamed with its sidecar. */
function storeJob(store: ArchiveStore, path: string, identities: Identities): VerifyJob {
  const file = store.file?.(path);
  if (file !== undefined) return fileJob(file, store.url(path), identities);
  return {
    shown: store.url(path),
    check: async () => {
      const sidecarText = await store.open(sidecarName(path)).then((body) =>
        body === undefined ? undefined : new Response(body).text()
      );
      const sidecar = parseSidecar(sidecarText, basename(path));
      const body = await store.open(path);
      if (body === undefined) {
        return {
          ok: false,
          reason: "no such object in the bucket",
          hashChecked: false,
          contentChecked: false,
          entries: 0,
          bytes: 0,
        };
      }
      return await verifyBytes(path, body, {
        ...identities,
        sidecar,
        // After a read that stopped early, read it again to judge the hash.
        rehash: async () => await hashStream(await store.open(path) ?? ReadableStream.from([])),
      });
    },
  };
}

/**
 * What to verify: the names given (files, names under DEST, `s3://` addresses, or with
 * `--remote` names in the bucket), else the newest archive of the store, or all of them.
 */
async function verifyJobs(
  settings: Settings,
  names: readonly string[],
  options: { all: boolean; remote: boolean },
  identities: Identities,
): Promise<VerifyJob[]> {
  // Archives named by path need no DEST; the newest, all of them, or `latest` do.
  const needsDest = !options.remote && (names.length === 0 || names.includes(LATEST));
  const dest = needsDest ? await existingDest(settings, "verify") : resolve(settings.dest);
  const store = options.remote
    ? await configuredRemote(settings, "verify the bucket's archives")
    : localStore(dest);
  if (names.length === 0) {
    const archives = await store.list();
    const chosen = options.all ? archives.reverse() : archives.slice(-1);
    if (chosen.length === 0) {
      const where = options.remote ? `in "${store.url()}"` : `under "${dest}"`;
      throw new RunError(`Cannot verify: no archive ${where}`);
    }
    return chosen.map((a) => storeJob(store, a.path, identities));
  }
  return await Promise.all(names.map(async (name) => {
    if (options.remote) {
      if (name !== LATEST) return storeJob(store, name, identities);
      const newest = (await store.list()).at(-1);
      if (!newest) throw new RunError(`Cannot verify: no archive in "${store.url()}"`);
      return storeJob(store, newest.path, identities);
    }
    if (name.startsWith("s3://")) {
      const { store: bucket, path } = await remoteArchiveAt(settings, name);
      return storeJob(bucket, path, identities);
    }
    const file = await locate(dest, name);
    return fileJob(
      file,
      file.startsWith(`${dest}/`) ? file.slice(dest.length + 1) : file,
      identities,
    );
  }));
}

/**
 * `backupd verify [ARCHIVE...] [--all] [--remote]`: one line per archive, exit 2 if any
 * fails. Archives are files, names under DEST, `s3://` addresses, or with `--remote` names
 * in the bucket.
 *
 * @example
 * ```ts ignore
 * const code = await commandVerify(settings, ["2027-01-02/01-00-00.tar.gz"], {
 *   all: false,
 *   remote: false,
 * }, io);
 * ```
 */
export async function commandVerify(
  settings: Settings,
  names: readonly string[],
  options: { all: boolean; remote: boolean; json?: boolean },
  io: CommandIo,
): Promise<number> {
  const identities = await identitiesOf(settings);
  let failed = 0;
  const verdicts: (VerifyResult & { archive: string })[] = [];
  for (const job of await verifyJobs(settings, names, options, identities)) {
    const result = await job.check();
    if (options.json) {
      if (!result.ok) failed++;
      verdicts.push({ archive: job.shown, ...result });
      continue;
    }
    if (!result.ok) {
      failed++;
      io.stdout(`FAILED ${job.shown}: ${result.reason}\n`);
      continue;
    }
    const hash = result.hashChecked
      ? "sha256 matches the sidecar"
      : "sha256 not checked: no sidecar";
    io.stdout(
      result.contentChecked
        ? `OK ${job.shown}: ${result.entries} entries, ${
          formatBytes(result.bytes)
        } of content, ${hash}\n`
        : `OK ${job.shown}: ${hash}; encrypted, content not checked (give --age-identity)\n`,
    );
  }
  if (options.json) io.stdout(`${JSON.stringify({ ok: failed === 0, archives: verdicts })}\n`);
  return failed > 0 ? EXIT.failed : EXIT.ok;
}
