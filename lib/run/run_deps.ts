// What a run needs from its surroundings: the clock, the log, who runs it, how it is
// stopped, and the means to show progress, ping and wait; injected, so tests drive them.

import type { ProgressBar } from "../base/progress.ts";
import type { NoticeDeps } from "../notices/run_report.ts";

/** What a run needs from its surroundings: what its notices need, and more. */
export interface RunDeps extends NoticeDeps {
  /** Who runs, written into the lock file. */
  holder: string;
  /** Abandons the run; its partial file is removed. */
  signal?: AbortSignal;
  /** Starts a progress bar for a total byte count; none when absent. */
  progress?: (totalBytes: number) => ProgressBar;
  /** Waits between upload attempts. @default {abortableSleep} */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /**
   * Typed by hand (`backupd now`): a run refused for its settings is the operator's typo,
   * not a failure of the backups, and leaves the recorded result as it was.
   */
  byHand?: boolean;
}
