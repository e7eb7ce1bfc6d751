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

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * Reads a duration (`10s`, `500ms`, `2m`, `1h`, `8d`; a bare number is seconds) as
 * milliseconds.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(parseDuration("10s", "--wal-interval"), 10_000);
 * assertEquals(parseDuration("2m", "--wal-interval"), 120_000);
 * ```
 */
export function parseDuration(value: string, from: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
  const ms = match ? Number(match[1]) * (DURATION_UNITS[match[2] ?? "s"] as number) : NaN;
  if (!Number.isFinite(ms) || ms <= 0) {
    throw new ConfigError(from, value, "expected a duration such as 10s, 500ms, 2m, 1h or 8d");
  }
  return Math.round(ms);
}

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  tb: 1000 ** 4,
};

/**
 * Reads a size (`1GiB`, `512MiB`, `2GB`; a bare number is bytes) as bytes.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(parseSize("1GiB", "--wal-max-retained"), 1073741824);
 * ```
 */
export function parseSize(value: string, from: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  const unit = SIZE_UNITS[(match?.[2] ?? "x").toLowerCase()];
  const bytes = match && unit !== undefined ? Number(match[1]) * unit : NaN;
  if (!Number.isFinite(bytes) || bytes <= 0) {
    throw new ConfigError(from, value, "expected a size such as 1GiB, 512MiB or 2GB");
  }
  return Math.round(bytes);
}
