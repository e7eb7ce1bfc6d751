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
import { verifyWal, type WalVerdict } from "../postgres/wal_verify.ts";
import { BUCKET_SETTINGS, type Command, type CommandIo } from "./command.ts";
import {
  configuredRemote,
  existingDest,
  identitiesOf,
  LATEST,
  locate,
  remoteArchiveAt,
} from "./find_archive.ts";

/** The age identities to read encrypted archives with, if any. */
type Identities = { identities?: string[] };

/** One archive to verify: how it is shown, and how to check it. */
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
 * `backupd verify [ARCHIVE...] [--all] [--remote] [--json]`: one line per archive, exit 2 if
 * any fails. Archives are files, names under DEST, `s3://` addresses, or with `--remote`
 * names in the bucket.
 */
export const verifyCommand: Command = {
  name: "verify",
  description: "check archives (the newest when none is named)",
  settings: ["dest", "logFormat", ...BUCKET_SETTINGS, "ageIdentity"],
  operands: {
    spec: "[archive...]",
    help: "archive paths, names relative to DEST, or s3:// addresses",
  },
  options: {
    all: { flag: "--all", help: "check every archive under DEST" },
    remote: {
      flag: "--remote",
      help: "check archives in the bucket of --s3-url (names relative to it)",
    },
    json: { flag: "--json", help: "print the verdicts as one JSON object" },
    withWal: {
      flag: "--with-wal",
      help: "check every stored WAL file too (--all does when there is any)",
    },
  },
  async run(ctx) {
    const identities = await identitiesOf(ctx.settings);
    const scope = { all: ctx.options.all === true, remote: ctx.options.remote === true };
    const jobs = await verifyJobs(ctx.settings, ctx.operands, scope, identities);
    const verdicts: (VerifyResult & { archive: string })[] = [];
    for (const job of jobs) {
      const verdict = { archive: job.shown, ...await job.check() };
      verdicts.push(verdict);
      if (!ctx.options.json) printVerdict(verdict, ctx);
    }
    const asked = ctx.options.withWal === true;
    let wal = asked || scope.all
      ? await checkWal(ctx.settings, scope.remote, identities)
      : undefined;
    // --all says nothing of a WAL folder that is not there; --with-wal always answers.
    const stored = wal ? wal.segments + wal.partials + wal.histories + wal.bases : 0;
    if (!asked && stored === 0) wal = undefined;
    if (wal && !ctx.options.json) printWal(wal, ctx);
    const ok = verdicts.every((v) => v.ok) && (wal?.ok ?? true);
    if (ctx.options.json) {
      ctx.stdout(`${JSON.stringify({ ok, archives: verdicts, ...(wal ? { wal } : {}) })}\n`);
    }
    return ok ? EXIT.ok : EXIT.failed;
  },
};

/** The WAL folder of DEST or of the bucket, checked. */
async function checkWal(
  settings: Settings,
  remote: boolean,
  identities: Identities,
): Promise<WalVerdict> {
  const store = remote
    ? await configuredRemote(settings, "verify the bucket's WAL")
    : localStore(await existingDest(settings, "verify"));
  return await verifyWal(store.wal(), identities.identities ?? []);
}

/** One line per failed WAL file, then one for the folder. */
function printWal(verdict: WalVerdict, io: CommandIo): void {
  for (const failure of verdict.failures) io.stdout(`FAILED ${failure.file}: ${failure.reason}\n`);
  const counts =
    `${verdict.segments} segments, ${verdict.partials} partial, ${verdict.histories} history files, ${verdict.bases} base records`;
  io.stdout(
    verdict.ok
      ? `OK WAL: ${counts}, sha256 matches the sidecars${
        verdict.contentChecked
          ? `, each segment is the one its name says, ${verdict.records} records chained with their CRCs`
          : "; encrypted, content not checked (give --age-identity)"
      }\n`
      : `FAILED WAL: ${verdict.failures.length} of ${counts}\n`,
  );
}

/** One archive's line: FAILED and why, or OK with what was checked. */
function printVerdict(verdict: VerifyResult & { archive: string }, io: CommandIo): void {
  if (!verdict.ok) {
    io.stdout(`FAILED ${verdict.archive}: ${verdict.reason}\n`);
    return;
  }
  const hash = verdict.hashChecked
    ? "sha256 matches the sidecar"
    : "sha256 not checked: no sidecar";
  io.stdout(
    verdict.contentChecked
      ? `OK ${verdict.archive}: ${verdict.entries} entries, ${
        formatBytes(verdict.bytes)
      } of content, ${hash}\n`
      : `OK ${verdict.archive}: ${hash}; encrypted, content not checked (give --age-identity)\n`,
  );
}
