// The run's off-site step: this archive and every kept one the bucket lacks, uploaded; and
// the one way a bucket is opened, for the run and the commands.

import { hasRules } from "../store/retention.ts";
import type { Settings } from "../settings/settings.ts";
import { listArchives } from "../store/local_store.ts";
import { describeError, RunError } from "../base/errors.ts";
import type { RemoteStore } from "../offsite/s3_store.ts";
import type { S3Target } from "../offsite/s3_url.ts";
import { abortableSleep, uploadMissing } from "../offsite/uploads.ts";
import { applyPolicy, keepWindow } from "../store/retention.ts";
import { readWalCatalog } from "../postgres/wal_catalog.ts";
import { localWalStore } from "../store/wal_store.ts";
import type { RunDeps } from "./run_deps.ts";

/**
 * Opens a bucket with the settings' connection and credentials. The AWS SDK is loaded only
 * now: it costs every start ~60 ms.
 */
export async function openBucket(settings: Settings, target: S3Target): Promise<RemoteStore> {
  const { openRemote } = await import("../offsite/s3_store.ts");
  return await openRemote(settings.s3Connection, target, { credentials: settings.s3Credentials });
}

/**
 * Uploads this run's archive and every other one the bucket lacks (of those retention
 * keeps). A failure fails the run; the local archives stay for the next run to upload.
 */
export async function copyOffsite(
  settings: Settings,
  dest: string,
  remote: RemoteStore,
  archive: string,
  deps: RunDeps,
): Promise<void> {
  const local = await listArchives(dest);
  // What retention keeps, the base that holds the recovery window included.
  const bases = (await readWalCatalog(localWalStore(dest))).bases;
  const kept = hasRules(settings.keep)
    ? new Set(
      keepWindow(applyPolicy(local, settings.keep), bases, {
        within: settings.keep.within,
        now: deps.now(),
      }).keep,
    )
    : undefined;
  try {
    const wanted = local.filter((a) => kept?.has(a.path) ?? true);
    await uploadMissing(remote, wanted.map((a) => ({ ...a, file: `${dest}/${a.path}` })), {
      log: deps.log,
      sleep: deps.sleep ?? abortableSleep,
      ...(deps.signal ? { signal: deps.signal } : {}),
    });
  } catch (err) {
    // Interrupted: the interruption is the reason, not the upload it cut short.
    if (deps.signal?.aborted) throw deps.signal.reason ?? err;
    throw new RunError(
      `${
        describeError(err)
      } (the local archive ${archive} is kept; the next run uploads what the bucket lacks)`,
      { cause: err },
    );
  }
}
