// Entry point of backupd: reads the arguments and environment, runs the CLI and exits
// with its code. The only place that calls Deno.exit.

import { cli } from "./lib/cli.ts";
import { writeStderr } from "./lib/log.ts";

const encoder = new TextEncoder();

function writeStdout(text: string): void {
  let bytes = encoder.encode(text);
  while (bytes.length > 0) bytes = bytes.subarray(Deno.stdout.writeSync(bytes));
}

if (import.meta.main) {
  const code = await cli(Deno.args, Deno.env.toObject(), {
    stdout: writeStdout,
    stderr: writeStderr,
    stderrIsTerminal: Deno.stderr.isTerminal(),
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
