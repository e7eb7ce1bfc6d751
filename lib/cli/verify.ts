// `backupd verify`: one line per archive, local or in the bucket; exit 2 if any fails.

import { basename, resolve } from "node:path";
import { EXIT, RunError } from "../base/errors.ts";
import { sidecarName } from "../store/names.ts";
import type { RemoteStore } from "../offsite/s3_store.ts";
import { hashStream, parseSidecar } from "../store/sidecar.ts";
import { formatBytes } from "../base/progress.ts";
import type { Settings } from "../settings/settings.ts";
import { verifyArchive, verifyBytes, type VerifyResult } from "../read/verify.ts";
import {
  archivesIn,
  type CommandIo,
  configuredRemote,
  identitiesOf,
  locate,
  remoteArchiveAt,
} from "./archives.ts";

/** One archive to verify: how it is shown, and how to check it. */
interface VerifyJob {
  shown: string;
  check: () => Promise<VerifyResult>;
}

/** Streams an archive and its sidecar from the bucket through every check. */
function remoteJob(
  store: RemoteStore,
  path: string,
  identities: { identities?: string[] },
): VerifyJob {
  return {
    shown: store.url(path),
    check: async () => {
      const sidecar = parseSidecar(await store.getText(sidecarName(path)), basename(path));
      const body = await store.get(path);
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
        // After a read that stopped early, download it again to judge the hash.
        rehash: async () => await hashStream(await store.get(path) ?? ReadableStream.from([])),
      });
    },
  };
}

async function verifyJobs(
  settings: Settings,
  names: readonly string[],
  options: { all: boolean; remote: boolean },
  identities: { identities?: string[] },
): Promise<VerifyJob[]> {
  const dest = resolve(settings.dest);
  const local = (path: string): VerifyJob => ({
    shown: path.startsWith(`${dest}/`) ? path.slice(dest.length + 1) : path,
    check: () => verifyArchive(path, identities),
  });
  // Without names: the newest archive, or all of them newest first.
  const choose = <T>(archives: T[], where: string): T[] => {
    const chosen = options.all ? archives.reverse() : archives.slice(-1);
    if (chosen.length === 0) throw new RunError(`Cannot verify: no archive ${where}`);
    return chosen;
  };
  if (options.remote) {
    const store = await configuredRemote(settings, "verify the bucket's archives");
    if (names.length > 0) return names.map((name) => remoteJob(store, name, identities));
    return choose(await store.list(), `in "${store.url()}"`).map((a) =>
      remoteJob(store, a.path, identities)
    );
  }
  if (names.length > 0) {
    return await Promise.all(names.map(async (name) => {
      if (name.startsWith("s3://")) {
        const { store, path } = await remoteArchiveAt(settings, name);
        return remoteJob(store, path, identities);
      }
      return local(await locate(dest, name));
    }));
  }
  return choose(await archivesIn(dest), `under "${dest}"`).map((a) => local(`${dest}/${a.path}`));
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
  options: { all: boolean; remote: boolean },
  io: CommandIo,
): Promise<number> {
  const identities = await identitiesOf(settings);
  let failed = 0;
  for (const job of await verifyJobs(settings, names, options, identities)) {
    const result = await job.check();
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
  return failed > 0 ? EXIT.failed : EXIT.ok;
}
