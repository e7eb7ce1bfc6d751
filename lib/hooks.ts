// Pre- and post-hooks: a command split into words and run without a shell, with a
// timeout, its output logged line by line. A hook that fails is a RunError naming it.

import { RunError } from "./errors.ts";
import type { Logger } from "./log.ts";

/** Options of {@linkcode runHook}. */
export interface HookOptions {
  /** Extra environment for the hook (the process's own is inherited). */
  env?: Record<string, string>;
  /** How long the hook may take before it is killed. */
  timeoutMs: number;
  log: Logger;
  /** Stops the hook early (SIGTERM to the daemon). */
  signal?: AbortSignal;
}

const decoder = new TextDecoder();

function logLines(log: Logger, hook: string, stream: string, bytes: Uint8Array): void {
  for (const line of decoder.decode(bytes).split("\n")) {
    if (line.trim() !== "") log.info(`${hook} output`, { stream, line: line.trimEnd() });
  }
}

/**
 * Runs one hook to its end; throws RunError when it cannot start, fails or times out.
 *
 * @example
 * ```ts
 * await runHook("--pre-hook", ["sh", "-c", "sync"], { timeoutMs: 60_000, log });
 * ```
 */
export async function runHook(
  name: string,
  words: readonly string[],
  options: HookOptions,
): Promise<void> {
  const [program, ...args] = words;
  if (program === undefined) return;
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(program, {
      args,
      env: options.env ?? {},
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal,
    }).output();
  } catch (err) {
    const reason = err instanceof Deno.errors.NotFound
      ? `no such program "${program}"`
      : err instanceof Deno.errors.PermissionDenied
      ? `"${program}" is not executable`
      : String(err);
    throw new RunError(`Cannot run ${name}: ${reason}`, { cause: err });
  }
  logLines(options.log, name, "stdout", output.stdout);
  logLines(options.log, name, "stderr", output.stderr);
  if (timeout.aborted) {
    throw new RunError(
      `Cannot finish ${name}: still running after ${options.timeoutMs / 1000} s, killed`,
    );
  }
  if (options.signal?.aborted) throw options.signal.reason;
  if (!output.success) {
    const how = output.signal ? `was killed by ${output.signal}` : `exited with ${output.code}`;
    throw new RunError(`Cannot finish ${name}: "${program}" ${how}`);
  }
}
