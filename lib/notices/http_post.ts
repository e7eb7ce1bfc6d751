// One POST that gives up after a timeout and fails on any answer but 2xx: what pings,
// webhooks and ntfy share. The answer's body is never read, only released.

/** Options of {@linkcode postWithTimeout}. */
export interface PostOptions {
  /** Headers of the request. */
  headers: Record<string, string>;
  /** How long to wait for the answer. */
  timeoutMs: number;
  /** The fetch to use (tests pass their own). @default {globalThis.fetch} */
  fetch?: typeof fetch;
}

/**
 * POSTs `body` to `url`; throws `Error("HTTP <status>")` on an answer that is not 2xx, and
 * the fetch's own error when there is no answer within the timeout.
 *
 * @example Refused by the receiver
 * ```ts
 * import { rejects } from "node:assert/strict";
 * const refuse = () => Promise.resolve(new Response("no", { status: 503 }));
 * await rejects(
 *   postWithTimeout("http://receiver.invalid/", "hi", { headers: {}, timeoutMs: 1000, fetch: refuse }),
 *   { message: "HTTP 503" },
 * );
 * ```
 */
export async function postWithTimeout(
  url: string,
  body: string,
  options: PostOptions,
): Promise<void> {
  const response = await (options.fetch ?? fetch)(url, {
    method: "POST",
    body,
    headers: options.headers,
    signal: AbortSignal.timeout(options.timeoutMs),
  });
  await response.body?.cancel();
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
}
