// One place a run's result is sent (README: Notifications): e-mail over SMTP, a JSON POST
// to an http(s) address, a Slack-compatible webhook, or an ntfy topic.

import { ConfigError } from "../base/errors.ts";
import { maskPassword } from "./value_checks.ts";

/** One place a run's result goes. */
export type NotifyTarget =
  | {
    kind: "smtp";
    /** The URL as given, password masked: how messages name it. */
    shown: string;
    host: string;
    port: number;
    /** TLS from the start (smtps://), else STARTTLS when the server offers it. */
    secure: boolean;
    user?: string;
    password?: string;
    from: string;
    to: string[];
  }
  | { kind: "http" | "slack" | "ntfy"; shown: string; url: string };

/**
 * Reads a notification address; throws a `ConfigError` naming it when it is none.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(notifyTarget("ntfy://ntfy.sh/backups", "--notify"), {
 *   kind: "ntfy",
 *   shown: "ntfy://ntfy.sh/backups",
 *   url: "https://ntfy.sh/backups",
 * });
 * assertEquals(notifyTarget("smtp://mail:2525/?to=ops@example.org", "--notify").kind, "smtp");
 * ```
 */
export function notifyTarget(raw: string, from: string): NotifyTarget {
  const shown = maskPassword(raw);
  const url = URL.parse(raw);
  const fail = (why: string): never => {
    throw new ConfigError(from, shown, why);
  };
  if (!url || url.hostname === "") {
    return fail(
      "expected smtp://HOST:PORT/?to=ADDRESS, http(s)://..., slack+https://... or ntfy://HOST/TOPIC",
    );
  }
  const scheme = url.protocol.slice(0, -1);
  if (scheme === "smtp" || scheme === "smtps") {
    const to = (url.searchParams.get("to") ?? "").split(",").map((a) => a.trim()).filter((a) =>
      a !== ""
    );
    if (to.length === 0) fail("an smtp:// address needs ?to=ADDRESS (comma-separated for more)");
    const user = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    return {
      kind: "smtp",
      shown,
      host: url.hostname,
      port: Number(url.port || (scheme === "smtps" ? 465 : 25)),
      secure: scheme === "smtps",
      ...(user ? { user } : {}),
      ...(password ? { password } : {}),
      from: url.searchParams.get("from") ?? `backupd@${Deno.hostname()}`,
      to,
    };
  }
  if (scheme === "http" || scheme === "https") {
    return { kind: url.hostname === "hooks.slack.com" ? "slack" : "http", shown, url: raw };
  }
  if (scheme === "slack+http" || scheme === "slack+https") {
    return { kind: "slack", shown, url: raw.slice("slack+".length) };
  }
  if (scheme === "ntfy" || scheme === "ntfy+http" || scheme === "ntfy+https") {
    if (url.pathname.length < 2) fail("an ntfy address needs a topic: ntfy://HOST/TOPIC");
    const base = scheme === "ntfy+http" ? "http" : "https";
    return { kind: "ntfy", shown, url: `${base}://${url.host}${url.pathname}${url.search}` };
  }
  return fail(
    `unknown kind "${scheme}://": use smtp://, smtps://, http(s)://, slack+https:// or ntfy://`,
  );
}
