// What the daemon checks at start and until it passes (README: The daemon): SOURCE
// readable, DEST writable, the PostgreSQL server and the role's privileges with --postgres,
// the bucket with --s3-url. A problem is one line; the daemon retries, health says it.

import { describeError } from "../base/errors.ts";
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
