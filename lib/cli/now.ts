// `backupd now`: one backup, a progress bar on a terminal, SIGTERM and SIGINT abandoning
// the run as in the daemon.

import {
  ConfigError,
  describeError,
  EXIT,
  LockHeldError,
  RunError,
  STOP_CODES,
} from "../base/errors.ts";
import type { Logger } from "../base/log.ts";
import { type ProgressBar, startProgress } from "../base/progress.ts";
import { runBackup } from "../run/run.ts";
import type { RunReport } from "../notices/run_report.ts";
import type { Settings } from "../settings/settings.ts";
import type { Env, Flags } from "../settings/flags.ts";
import type { Io } from "./io.ts";

/**
 * Which setting carried SOURCE and DEST, for messages: the flag, or its variable.
 *
 * @example
 * ```ts ignore
 * originsOf({}, { BACKUP_SOURCE: "/srv" }); // { source: "BACKUP_SOURCE", dest: "--dest" }
 * ```
 */
export function originsOf(flags: Flags, env: Env): { source: string; dest: string } {
  return {
    source: flags.source === undefined && env.BACKUP_SOURCE ? "BACKUP_SOURCE" : "--source",
    dest: flags.dest === undefined && env.BACKUP_DEST ? "BACKUP_DEST" : "--dest",
  };
}

/** Wraps a logger so that log lines and the progress bar do not overwrite each other. */
function aroundBar(log: Logger, bar: () => ProgressBar | undefined): Logger {
  const wrap = (write: Logger["info"]): Logger["info"] => (message, fields) => {
    bar()?.clear();
    write(message, fields);
    bar()?.redraw();
  };
  return { info: wrap(log.info), warn: wrap(log.warn), error: wrap(log.error) };
}

/**
 * `backupd now`: one backup, then retention; returns the exit code (143/130 when stopped).
 *
 * @example
 * ```ts ignore
 * const code = await commandNow(flags, settings, Deno.env.toObject(), io, log);
 * ```
 */
export async function commandNow(
  flags: Flags,
  settings: Settings,
  env: Env,
  io: Io,
  log: Logger,
): Promise<number> {
  let bar: ProgressBar | undefined;
  // SIGTERM and SIGINT abandon the run as in the daemon: partial removed, containers
  // resumed, post-hook told the run failed.
  const stop = new AbortController();
  let stoppedBy: keyof typeof STOP_CODES | undefined;
  const stopOn = (signal: keyof typeof STOP_CODES) => () => {
    if (stoppedBy) return;
    stoppedBy = signal;
    log.info("stopping: abandoning the run", { signal });
    stop.abort(new RunError(`Cannot finish the run: interrupted by ${signal}`));
  };
  const removers = [
    io.onSignal("SIGTERM", stopOn("SIGTERM")),
    io.onSignal("SIGINT", stopOn("SIGINT")),
  ];
  let report: RunReport;
  try {
    report = await runBackup(settings, originsOf(flags, env), {
      now: io.now,
      log: aroundBar(log, () => bar),
      holder: `pid ${io.pid} (backupd now)`,
      signal: stop.signal,
      ...(io.stderrIsTerminal
        ? {
          progress: (total: number) =>
            bar = startProgress(total, io.stderr, () => performance.now()),
        }
        : {}),
    });
  } finally {
    for (const remove of removers) remove();
  }
  if (report.result === "failed") {
    const err = report.error;
    if (!stoppedBy && (err instanceof ConfigError || err instanceof LockHeldError)) throw err;
    log.error("backup failed", { error: describeError(err) });
    return stoppedBy ? STOP_CODES[stoppedBy] : EXIT.failed;
  }
  return report.result === "warning" ? EXIT.warnings : EXIT.ok;
}
