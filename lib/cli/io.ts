// What a command needs of the process: output, the clock, the zone, who it runs as, and
// its signals. main.ts supplies the real ones; tests their own.

import type { OnSignal } from "../daemon/stop_signals.ts";

/** The world a command runs in. */
export interface Io {
  /** Writes to stdout. */
  stdout: (text: string) => void;
  /** Writes to stderr. */
  stderr: (text: string) => void;
  /** Whether stderr is a terminal (for the progress bar). */
  stderrIsTerminal: boolean;
  /** Whether a person is at a terminal (stdin and stdout are one): no command then prints usage. */
  interactive?: boolean;
  /** The clock, in epoch milliseconds. */
  now: () => number;
  /** The system's time zone. */
  timeZone: string;
  /** This process's id. */
  pid: number;
  /** Whether this process runs as root. */
  isRoot: boolean;
  /** Registers a signal handler; returns its remover. */
  onSignal: OnSignal;
}
