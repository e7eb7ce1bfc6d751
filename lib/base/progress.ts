// The progress bar `now` draws on a terminal: bytes done of total, rate and time left.
// Formatting is pure; the bar redraws at most ten times a second.

import { formatBytes } from "./bytes.ts";

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "--:--";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}

/**
 * One frame of the bar.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(
 *   renderBar(50, 100, 10, 30),
 *   "[###############---------------]  50%  50 B / 100 B  5 B/s  ETA 0:10",
 * );
 * ```
 */
export function renderBar(done: number, total: number, seconds: number, width = 30): string {
  const fraction = total > 0 ? Math.min(1, done / total) : 0;
  const filled = Math.round(fraction * width);
  const rate = seconds > 0 ? done / seconds : 0;
  const eta = rate > 0 ? Math.max(0, total - done) / rate : Infinity;
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${
    String(Math.round(fraction * 100)).padStart(3)
  }%  ${formatBytes(done)} / ${formatBytes(total)}  ${formatBytes(Math.round(rate))}/s  ETA ${
    formatDuration(eta)
  }`;
}

/** A bar on a terminal. */
export interface ProgressBar {
  /** Adds bytes done; redraws when due. */
  add(n: number): void;
  /** Erases the bar (before a log line). */
  clear(): void;
  /** Draws it again (after a log line). */
  redraw(): void;
  /** Erases it for good. */
  stop(): void;
}

/**
 * Starts a bar for `total` bytes, drawn with `write`.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * let drawn = "";
 * const bar = startProgress(1e9, (s) => drawn += s, () => 0);
 * bar.add(5e8);
 * bar.stop();
 * assertEquals(drawn.includes(" 50% "), true);
 * ```
 */
export function startProgress(
  total: number,
  write: (text: string) => void,
  nowMs: () => number,
): ProgressBar {
  const started = nowMs();
  let done = 0;
  let lastDraw = -Infinity;
  let stopped = false;
  const draw = () => {
    if (stopped) return;
    lastDraw = nowMs();
    write(`\r\x1b[K${renderBar(done, total, (lastDraw - started) / 1000)}`);
  };
  return {
    add(n) {
      done += n;
      if (nowMs() - lastDraw >= 100) draw();
    },
    clear: () => write("\r\x1b[K"),
    redraw: draw,
    stop() {
      write("\r\x1b[K");
      stopped = true;
    },
  };
}
