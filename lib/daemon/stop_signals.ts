// SIGTERM and SIGINT as the daemon and `now` both answer them: the run in progress is
// abandoned (its partial removed, containers resumed) and the exit code says which signal.

import { RunError, STOP_CODES } from "../base/errors.ts";
import type { Logger } from "../base/log.ts";

/** Signals backupd answers. */
export type DaemonSignal = "SIGTERM" | "SIGINT" | "SIGUSR1";

/** Registers a signal handler; returns its remover. */
export type OnSignal = (signal: DaemonSignal, handler: () => void) => () => void;

/** The stop that SIGTERM or SIGINT asked for, once one did. */
export interface StopSignals {
  /** Aborted by the first SIGTERM or SIGINT, with "Cannot finish the run: interrupted by ...". */
  signal: AbortSignal;
  /** The exit code the stop calls for: 143 or 130 when it cut a run short, else 0. */
  exitCode(): number;
  /** Whether a stop was asked for, and by which signal. */
  stoppedBy(): keyof typeof STOP_CODES | undefined;
  /** Removes the handlers. */
  dispose(): void;
}

/**
 * Answers SIGTERM and SIGINT: logs `stopping: abandoning the run` (or `stopping` when
 * `running()` says nothing runs) and aborts `signal`; later signals are ignored.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * const handlers = new Map<string, () => void>();
 * const logged: string[] = [];
 * const log = { info: (m: string) => logged.push(m), warn: () => {}, error: () => {} };
 * const stop = stopOnSignals((s, h) => (handlers.set(s, h), () => handlers.delete(s)), log, () => true);
 * handlers.get("SIGTERM")?.();
 * assertEquals([stop.signal.aborted, stop.exitCode(), logged], [true, 143, ["stopping: abandoning the run"]]);
 * stop.dispose();
 * assertEquals(handlers.size, 0);
 * ```
 */
export function stopOnSignals(
  onSignal: OnSignal,
  log: Logger,
  running: () => boolean,
): StopSignals {
  const controller = new AbortController();
  let stoppedBy: keyof typeof STOP_CODES | undefined;
  let duringRun = false;
  const stopOn = (signal: keyof typeof STOP_CODES) => () => {
    if (controller.signal.aborted) return;
    stoppedBy = signal;
    duringRun = running();
    log.info(duringRun ? "stopping: abandoning the run" : "stopping", { signal });
    controller.abort(new RunError(`Cannot finish the run: interrupted by ${signal}`));
  };
  const removers = [onSignal("SIGTERM", stopOn("SIGTERM")), onSignal("SIGINT", stopOn("SIGINT"))];
  return {
    signal: controller.signal,
    exitCode: () => stoppedBy && duringRun ? STOP_CODES[stoppedBy] : 0,
    stoppedBy: () => stoppedBy,
    dispose: () => removers.forEach((remove) => remove()),
  };
}
