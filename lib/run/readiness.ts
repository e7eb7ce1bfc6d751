// What the daemon checks at start and until it passes (README: The daemon): SOURCE
// readable, DEST writable, no live database to be copied plainly, the PostgreSQL server and
// the role's privileges with --postgres, the bucket with --s3-url. A problem is one line;
// the daemon retries, health says it.

import { ConfigError, describeError } from "../base/errors.ts";
import { runningServerIn } from "../postgres/layout.ts";
import { wouldQuiesce } from "../containers/quiesce.ts";
import type { Logger } from "../base/log.ts";
import { checkFolders, type FolderOrigins } from "../archive/folders.ts";
import type { Settings } from "../settings/settings.ts";
import { openBucket } from "./offsite_step.ts";

/**
 * The first thing that would fail a backup now, as one line; none when all is ready.
 * (Settings that do not parse, notification addresses among them, end the command before.)
 *
 * @example
 * ```ts ignore
 * const problem = await readinessProblem(settings, origins, log);
 * ```
 */
export async function readinessProblem(
  settings: Settings,
  origins: FolderOrigins,
  log: Logger,
): Promise<string | undefined> {
  try {
    await checkFolders(settings.source, settings.dest, origins);
    // Seen when the daemon starts, not at 01:00: a live database copied plainly.
    await refuseLiveCopy(settings, settings.source, {
      quiesced: await wouldQuiesce(settings),
      origins,
    });
    if (settings.postgres) {
      const { checkOnlineBackup } = await import("../postgres/backup_session.ts");
      await checkOnlineBackup(settings.postgres, settings.source, log);
    }
    if (settings.s3) await (await openBucket(settings, settings.s3)).list();
    return undefined;
  } catch (err) {
    return describeError(err);
  }
}

/**
 * Refuses a plain copy of a running PostgreSQL's data folder: nothing holds it still (no
 * `--postgres`, no pre-hook, nothing quiesced), so the copy would not restore. A stopped
 * server's folder is copied as before; BACKUP_ALLOW_LIVE_COPY=yes copies it all the same.
 *
 * @example
 * ```ts ignore
 * await refuseLiveCopy(settings, "/data", { quiesced: false, origins });
 * ```
 */
export async function refuseLiveCopy(
  settings: Settings,
  source: string,
  { quiesced, origins }: { quiesced: boolean; origins: FolderOrigins },
): Promise<void> {
  if (settings.postgres || settings.preHook || quiesced || settings.allowLiveCopy) return;
  if (!await runningServerIn(source)) return;
  throw new ConfigError(
    origins.source,
    settings.source,
    "a PostgreSQL server is running on it (postmaster.pid), and a plain copy of a live database does not restore; give --postgres postgres://USER@HOST:PORT/DATABASE (README: Consistency), a --pre-hook that stops it, or BACKUP_ALLOW_LIVE_COPY=yes to copy it anyway",
  );
}
