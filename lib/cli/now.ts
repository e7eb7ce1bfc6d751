// `backupd now`: one backup, a progress bar on a terminal, SIGTERM and SIGINT abandoning
// the run as in the daemon.

import { ConfigError, describeError, EXIT, LockHeldError, STOP_CODES } from "../base/errors.ts";
import type { Logger } from "../base/log.ts";
import { type ProgressBar, startProgress } from "../base/progress.ts";
import { stopOnSignals } from "../daemon/stop_signals.ts";
import { runBackup } from "../run/run.ts";
import { givenBy } from "../settings/settings.ts";
import { BACKUP_SETTINGS, type Command, type CommandContext } from "./command.ts";

/** Wraps a logger so that log lines and the progress bar do not overwrite each other. */
function aroundBar(log: Logger, bar: () => ProgressBar | undefined): Logger {
  const wrap = (write: Logger["info"]): Logger["info"] => (message, fields) => {
    bar()?.clear();
    write(message, fields);
    bar()?.redraw();
  };
  return { info: wrap(log.info), warn: wrap(log.warn), error: wrap(log.error) };
}

/** `backupd now`: one backup, then retention; exit 143/130 when stopped by a signal. */
export const nowCommand: Command = {
  name: "now",
  description: "make one backup now (then apply retention when a rule is set)",
  settings: BACKUP_SETTINGS,
  run: backupNow,
};

async function backupNow(ctx: CommandContext): Promise<number> {
  const { io, log, settings } = ctx;
  let bar: ProgressBar | undefined;
  // SIGTERM and SIGINT abandon the run as in the daemon: partial removed, containers
  // resumed, post-hook told the run failed.
  const stop = stopOnSignals(io.onSignal, log, () => true);
  const report = await runBackup(settings, folderOrigins(ctx), {
    now: io.now,
    log: aroundBar(log, () => bar),
    holder: `pid ${io.pid} (backupd now)`,
    signal: stop.signal,
    byHand: true,
    ...(io.stderrIsTerminal
      ? {
        progress: (total: number) => bar = startProgress(total, io.stderr, () => performance.now()),
      }
      : {}),
  }).finally(() => stop.dispose());
  const stoppedBy = stop.stoppedBy();
  if (report.result === "failed") {
    const err = report.error;
    if (!stoppedBy && (err instanceof ConfigError || err instanceof LockHeldError)) throw err;
    log.error("backup failed", { error: describeError(err) });
    return stoppedBy ? STOP_CODES[stoppedBy] : EXIT.failed;
  }
  return report.result === "warning" ? EXIT.warnings : EXIT.ok;
}

/**
 * Which setting carried SOURCE and DEST, for messages: the flag, or its variable.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { resolveSettings } from "../settings/settings.ts";
 * const settings = resolveSettings({}, { BACKUP_SOURCE: "/srv" }, { timeZone: "UTC" });
 * assertEquals(folderOrigins({ settings }), { source: "BACKUP_SOURCE", dest: "--dest" });
 * ```
 */
export function folderOrigins(ctx: Pick<CommandContext, "settings">): {
  source: string;
  dest: string;
} {
  return { source: givenBy(ctx.settings, "source"), dest: givenBy(ctx.settings, "dest") };
}
