// Pre- and post-hooks: a command split into words and run without a shell, in a process
// group of its own, with a timeout; its output logged line by line as it comes, capped.

import { RunError } from "../base/errors.ts";
import type { Logger } from "../base/log.ts";

/** Options of {@linkcode runHook}. */
export interface HookOptions {
  /** Extra environment for the hook (the process's own is inherited). */
  env?: Record<string, string>;
  /** How long the hook may take before it is stopped. */
  timeoutMs: number;
  /** Where its output goes, line by line. */
  log: Logger;
  /** Stops the hook early (SIGTERM to backupd). */
  signal?: AbortSignal;
}

/** Characters of one output line that are logged; the rest of the line is cut. */
export const LINE_CHARS = 2000;
/** Output logged per hook in all, in characters and in lines; the rest is read and dropped. */
export const OUTPUT_CHARS = 256 * 1024;
/** Lines of output logged per hook. */
export const OUTPUT_LINES = 1000;
/** After a timeout: how long the hook's group has between SIGTERM and SIGKILL. */
const TIMEOUT_GRACE_MS = 5_000;
/** After a stop of backupd: shorter, since backupd itself must exit within 2 seconds. */
const STOP_GRACE_MS = 1_000;
/** How long the pipes may stay open after the hook exited (a process it left may hold them). */
const PIPE_GRACE_MS = 200;

/** Logs one stream's lines as they arrive, within the caps; shares `budget` with the other. */
async function logLines(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  emit: (line: string) => void,
  budget: { chars: number; lines: number; cut: () => void },
): Promise<void> {
  const decoder = new TextDecoder();
  let line = "";
  let skipping = false;
  const flush = (text: string) => {
    if (text.trim() === "" || budget.chars <= 0 || budget.lines <= 0) return;
    const kept = text.length > LINE_CHARS ? `${text.slice(0, LINE_CHARS)} [line cut]` : text;
    budget.chars -= kept.length;
    budget.lines--;
    emit(kept.trimEnd());
    if (budget.chars <= 0 || budget.lines <= 0) budget.cut();
  };
  for (;;) {
    const { value, done } = await reader.read();
    const text = done ? decoder.decode() : decoder.decode(value, { stream: true });
    let start = 0;
    for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n", start)) {
      if (!skipping) flush(line + text.slice(start, nl));
      line = "";
      skipping = false;
      start = nl + 1;
    }
    if (!skipping) {
      line += text.slice(start);
      // A line longer than the cap is logged cut now, and its rest dropped as it comes.
      if (line.length > LINE_CHARS) {
        flush(line);
        line = "";
        skipping = true;
      }
    }
    if (done) break;
  }
  if (!skipping) flush(line);
}

function signalGroup(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(-pid, signal);
  } catch (err) {
    // The group is already gone: nothing is left to stop.
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

/**
 * Runs one hook until its process exits; throws RunError when it cannot start, fails or
 * times out. At the timeout, or when `signal` aborts, its whole process group gets SIGTERM,
 * then SIGKILL after a grace period. Processes the hook leaves running are left alone.
 *
 * @example
 * ```ts ignore
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
  const child = spawnHook(name, program, args, options.env ?? {});
  const output = logOutput(name, child, options.log);
  const { status, stopped } = await waitWithin(child, options);
  await output.finish();
  if (stopped === "timeout") {
    throw new RunError(
      `Cannot finish ${name}: still running after ${options.timeoutMs / 1000} s, stopped`,
    );
  }
  if (stopped === "signal") throw options.signal?.reason;
  if (!status.success) {
    const how = status.signal ? `was killed by ${status.signal}` : `exited with ${status.code}`;
    throw new RunError(`Cannot finish ${name}: "${program}" ${how}`);
  }
}

/** The hook's process, started in a process group of its own; one line when it cannot start. */
function spawnHook(
  name: string,
  program: string,
  args: string[],
  env: Record<string, string>,
): Deno.ChildProcess {
  try {
    return new Deno.Command(program, {
      args,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      // Its own process group, so a timeout reaches everything it started.
      detached: true,
    }).spawn();
  } catch (err) {
    const reason = err instanceof Deno.errors.NotFound
      ? `no such program "${program}"`
      : err instanceof Deno.errors.PermissionDenied
      ? `"${program}" is not executable`
      : String(err);
    throw new RunError(`Cannot run ${name}: ${reason}`, { cause: err });
  }
}

/** The hook's stdout and stderr logged line by line, within the budget, until `finish()`. */
function logOutput(name: string, child: Deno.ChildProcess, log: Logger) {
  const budget = {
    chars: OUTPUT_CHARS,
    lines: OUTPUT_LINES,
    cut: () =>
      log.warn(`${name} output cut: the rest is not logged`, {
        most_lines: OUTPUT_LINES,
        most_chars: OUTPUT_CHARS,
      }),
  };
  const readers = [child.stdout.getReader(), child.stderr.getReader()];
  const reading = Promise.all(readers.map((reader, i) => {
    const stream = i === 0 ? "stdout" : "stderr";
    return logLines(reader, (line) => log.info(`${name} output`, { stream, line }), budget)
      .catch(() => undefined); // Cancelled below once the hook is gone: nothing more to log.
  }));
  return {
    /** What it wrote is read to the end, unless what it left behind keeps the pipes open. */
    async finish(): Promise<void> {
      let grace: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([reading, new Promise((r) => grace = setTimeout(r, PIPE_GRACE_MS))]);
      clearTimeout(grace);
      await Promise.all(readers.map((reader) => reader.cancel()));
      await reading;
    },
  };
}

/**
 * Waits for the hook's process; at the timeout, or when `signal` aborts, its whole group
 * gets SIGTERM, then SIGKILL after a grace period.
 */
async function waitWithin(
  child: Deno.ChildProcess,
  options: HookOptions,
): Promise<{ status: Deno.CommandStatus; stopped: "timeout" | "signal" | undefined }> {
  let stopped: "timeout" | "signal" | undefined;
  let killer: ReturnType<typeof setTimeout> | undefined;
  const stop = (why: "timeout" | "signal") => {
    if (stopped) return;
    stopped = why;
    signalGroup(child.pid, "SIGTERM");
    const grace = why === "timeout" ? TIMEOUT_GRACE_MS : STOP_GRACE_MS;
    killer = setTimeout(() => signalGroup(child.pid, "SIGKILL"), grace);
  };
  const timer = setTimeout(() => stop("timeout"), options.timeoutMs);
  const onAbort = () => stop("signal");
  options.signal?.addEventListener("abort", onAbort, { once: true });
  if (options.signal?.aborted) onAbort();
  try {
    return { status: await child.status, stopped };
  } finally {
    clearTimeout(timer);
    clearTimeout(killer);
    options.signal?.removeEventListener("abort", onAbort);
  }
}
