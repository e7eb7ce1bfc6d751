// healthchecks-style pings: URL/start when a run starts, URL with the summary when it
// succeeds, URL/fail with the error when it fails. A ping never fails a backup.

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
 * ```ts ignore
 * pingAddress("https://hc-ping.example/abc/", "fail"); // "https://hc-ping.example/abc/fail"
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
  const doFetch = options.fetch ?? fetch;
  const address = pingAddress(url, event);
  const response = await doFetch(address, {
    method: "POST",
    body,
    headers: { "content-type": "text/plain; charset=utf-8" },
    signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
  });
  await response.body?.cancel();
  if (!response.ok) throw new Error(`Cannot ping "${address}": HTTP ${response.status}`);
}
