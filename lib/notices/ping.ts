// healthchecks-style pings: URL/start when a run starts, URL with the summary when it
// succeeds, URL/fail with the error when it fails. A ping never fails a backup.

import { describeError } from "../base/errors.ts";
import { postWithTimeout } from "./http_post.ts";
import { type NoticeDeps, noticeTimeoutMs } from "./run_report.ts";

/** Which ping. */
export type PingEvent = "start" | "success" | "fail";

/** Options of {@linkcode sendPing}. */
export interface PingOptions {
  /** How long to wait for an answer. @default {10000} */
  timeoutMs?: number;
  /** The fetch to use (tests may pass their own). @default {globalThis.fetch} */
  fetch?: typeof fetch;
}

/**
 * The address of a ping.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(pingAddress("https://hc-ping.example/abc/", "fail"), "https://hc-ping.example/abc/fail");
 * assertEquals(pingAddress("https://hc-ping.example/abc", "success"), "https://hc-ping.example/abc");
 * ```
 */
export function pingAddress(url: string, event: PingEvent): string {
  const base = url.replace(/\/+$/, "");
  return event === "success" ? base : `${base}/${event}`;
}

/**
 * Sends one ping; throws when it cannot be delivered or is not answered with 2xx.
 *
 * @example
 * ```ts ignore
 * await sendPing("https://hc-ping.example/abc", "start", "");
 * ```
 */
export async function sendPing(
  url: string,
  event: PingEvent,
  body: string,
  options: PingOptions = {},
): Promise<void> {
  const address = pingAddress(url, event);
  try {
    await postWithTimeout(address, body, {
      headers: { "content-type": "text/plain; charset=utf-8" },
      timeoutMs: options.timeoutMs ?? 10_000,
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
  } catch (err) {
    if (err instanceof Error && /^HTTP \d+$/.test(err.message)) {
      throw new Error(`Cannot ping "${address}": ${err.message}`, { cause: err });
    }
    throw err;
  }
}

/**
 * A run's ping to `pingUrl`, when one is set; one that cannot be delivered is a warning.
 *
 * @example
 * ```ts ignore
 * await pingRun(settings.pingUrl, deps, "fail", "Cannot read ...");
 * ```
 */
export async function pingRun(
  pingUrl: string | undefined,
  deps: NoticeDeps,
  event: PingEvent,
  body: string,
): Promise<void> {
  if (pingUrl === undefined) return;
  try {
    await sendPing(pingUrl, event, body, {
      timeoutMs: noticeTimeoutMs(deps),
      ...(deps.fetch ? { fetch: deps.fetch } : {}),
    });
  } catch (err) {
    // A ping that cannot be delivered is worth a warning, never a failed backup.
    deps.log.warn("ping failed", { event, error: describeError(err) });
  }
}
