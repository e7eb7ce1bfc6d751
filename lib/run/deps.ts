// What a run needs from its surroundings: the clock, the log, who runs it, how it is
// stopped, and the means to show progress, ping and wait; injected, so tests drive them.

import type { Logger } from "../base/log.ts";
import type { ProgressBar } from "../base/progress.ts";

/** What a run needs from its surroundings. */
export interface RunDeps {
  /** The clock, in epoch milliseconds. */
  now: () => number;
  /** Where events go. */
  log: Logger;
  /** Who runs, written into the lock file. */
  holder: string;
  /** Abandons the run; its partial file is removed. */
  signal?: AbortSignal;
  /** Starts a progress bar for a total byte count; none when absent. */
  progress?: (totalBytes: number) => ProgressBar;
  /** The fetch for pings. @default {globalThis.fetch} */
  fetch?: typeof fetch;
  /** Waits between upload attempts. @default {abortableSleep} */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}
