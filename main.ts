// Entry point of backupd: reads the arguments and environment, runs the CLI and exits
// with its code. The only place that calls Deno.exit.

import { cli } from "./lib/cli/cli.ts";
import { describeError } from "./lib/base/errors.ts";
import { writeAllSync, writeStderr } from "./lib/base/log.ts";

/** The last net: an error nothing caught (a library's callback) still ends in one line, exit 2. */
function exitOnUncaught(event: ErrorEvent | PromiseRejectionEvent): void {
  event.preventDefault();
  const err = "error" in event ? event.error : event.reason;
  writeStderr(`backupd: unexpected error: ${describeError(err)}\n`);
  Deno.exit(2);
}

if (import.meta.main) {
  globalThis.addEventListener("error", exitOnUncaught);
  globalThis.addEventListener("unhandledrejection", exitOnUncaught);
  const code = await cli(Deno.args, Deno.env.toObject(), {
    stdout: (text) => writeAllSync(Deno.stdout, text),
    stderr: writeStderr,
    stderrIsTerminal: Deno.stderr.isTerminal(),
    interactive: Deno.stdin.isTerminal() && Deno.stdout.isTerminal(),
    now: () => Date.now(),
    timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
    pid: Deno.pid,
    isRoot: Deno.uid() === 0,
    onSignal: (signal, handler) => {
      Deno.addSignalListener(signal, handler);
      return () => Deno.removeSignalListener(signal, handler);
    },
  });
  Deno.exit(code);
}
