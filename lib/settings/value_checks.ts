// Checks of single values that more than one setting needs: a time zone, a cron schedule,
// an address to listen on, and a connection address shown with its password masked.

import { Cron } from "croner";
import { ConfigError } from "../base/errors.ts";

/**
 * Checks an IANA zone name; returns it without the leading `:` that TZ may carry.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(checkTimeZone("Europe/Berlin", "--tz"), "Europe/Berlin");
 * ```
 */
export function checkTimeZone(zone: string, from: string): string {
  const name = zone.startsWith(":") ? zone.slice(1) : zone;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: name });
  } catch (err) {
    throw new ConfigError(from, zone, "unknown time zone", { cause: err });
  }
  return name;
}

/**
 * Checks a cron expression of 5 fields, or 6 with seconds first.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(checkSchedule("0 1 * * *", "--schedule", "UTC"), "0 1 * * *");
 * ```
 */
export function checkSchedule(pattern: string, from: string, timeZone: string): string {
  const fields = pattern.trim().split(/\s+/);
  if (fields.length !== 5 && fields.length !== 6) {
    throw new ConfigError(from, pattern, `expected 5 or 6 cron fields, got ${fields.length}`);
  }
  try {
    new Cron(pattern, { timezone: timeZone, paused: true });
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new ConfigError(from, pattern, `not a valid cron expression (${detail})`, { cause: err });
  }
  return fields.join(" ");
}

/**
 * A connection URL with its password, if any, masked: for messages.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(maskPassword("postgres://app:s3cret@db/shop"), "postgres://app:***@db/shop");
 * ```
 */
export function maskPassword(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/:@]*:)[^@/]*@/i, "$1***@");
}

/** An address to listen on. */
export interface ListenAddress {
  /** The host name or address. */
  hostname: string;
  /** The port. */
  port: number;
}

/**
 * Reads `HOST:PORT`, or `PORT` and `:PORT` alone (127.0.0.1: every interface only when
 * asked, as `0.0.0.0:PORT`); throws a `ConfigError` naming it.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(listenAddress("9187", "--metrics-listen"), { hostname: "127.0.0.1", port: 9187 });
 * assertEquals(listenAddress(":9187", "--metrics-listen"), { hostname: "127.0.0.1", port: 9187 });
 * assertEquals(listenAddress("0.0.0.0:9187", "--metrics-listen"), { hostname: "0.0.0.0", port: 9187 });
 * ```
 */
export function listenAddress(value: string, from: string): ListenAddress {
  const match = /^(?:\[?([^\]]*)\]?:)?(\d+)$/.exec(value.trim());
  const port = Number(match?.[2]);
  if (!match || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConfigError(from, value, "expected HOST:PORT, :PORT or PORT");
  }
  return { hostname: match[1] || "127.0.0.1", port };
}
