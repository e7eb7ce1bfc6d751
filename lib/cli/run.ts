// `backupd run`: the daemon, which waits for each scheduled slot and backs up (README: The
// daemon); what no command means without a terminal.

import { runDaemon, systemClock } from "../daemon/daemon.ts";
import { type Command, DAEMON_SETTINGS } from "./command.ts";
import { folderOrigins } from "./now.ts";

/** `backupd run`: the daemon, until SIGTERM or SIGINT. */
export const runCommand: Command = {
  name: "run",
  description: "the daemon: back up at each scheduled slot",
  settings: DAEMON_SETTINGS,
  run: (ctx) =>
    runDaemon(ctx.settings, folderOrigins(ctx), {
      clock: { now: ctx.io.now, sleep: systemClock.sleep },
      log: ctx.log,
      pid: ctx.io.pid,
      onSignal: ctx.io.onSignal,
    }),
};
