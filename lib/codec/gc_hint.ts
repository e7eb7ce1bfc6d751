// Frees dead buffers early. The archive path turns over its own size in short-lived
// ArrayBuffers, and V8 lets about 64 MB of them pile up per isolate before it collects;
// with --expose-gc (set by the tasks and the compiled binary) a young-generation pass
// every few megabytes keeps memory flat. Without the flag this does nothing.

const gc = (globalThis as unknown as { gc?: (options?: { type: "minor" | "major" }) => void }).gc;

/** Bytes turned over between two young-generation collections. */
const EVERY = 4 * 1024 * 1024;
/** Young collections between two full ones: buffers that lived through two get promoted. */
const MAJOR_EVERY = 2;
let turnedOver = 0;
let minors = 0;

/**
 * Counts `bytes` of buffers that became garbage; collects the young generation once
 * enough did, when the runtime allows it.
 *
 * @example
 * ```ts ignore
 * noteGarbage(block.length);
 * ```
 */
export function noteGarbage(bytes: number): void {
  turnedOver += bytes;
  if (turnedOver < EVERY) return;
  turnedOver = 0;
  minors = (minors + 1) % MAJOR_EVERY;
  gc?.({ type: minors === 0 ? "major" : "minor" });
}
