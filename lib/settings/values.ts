// One setting's value: picked from its flag, then its variable, and checked; each check
// names the setting and the value in the ConfigError it throws.

import { Cron } from "croner";
import { ConfigError } from "../base/errors.ts";
import type { Secret } from "../base/secret.ts";
import type { Env } from "./flags.ts";

export interface Picked {
  value: string;
  /** The flag or variable it came from, for error messages. */
  from: string;
}

export function pick(
  flag: string | undefined,
  flagName: string,
  env: Env,
  envName: string,
): Picked | undefined {
  if (flag !== undefined) return { value: flag, from: flagName };
  const fromEnv = env[envName];
  if (fromEnv !== undefined && fromEnv !== "") return { value: fromEnv, from: envName };
  return undefined;
}

/** A folder setting; an empty one is refused rather than read as the working folder. */
export function folderSetting(
  flag: string | undefined,
  flagName: string,
  env: Env,
  envName: string,
): string | undefined {
  if (flag === "" || (flag === undefined && env[envName] === "")) {
    throw new ConfigError(flag === "" ? flagName : envName, "", "expected a folder");
  }
  return pick(flag, flagName, env, envName)?.value;
}

const TRUE = new Set(["1", "true", "yes", "on"]);

const FALSE = new Set(["0", "false", "no", "off"]);

export function bool(
  flag: boolean | undefined,
  env: Env,
  envName: string,
  fallback: boolean,
): boolean {
  if (flag !== undefined) return flag;
  const raw = env[envName];
  if (raw === undefined || raw === "") return fallback;
  const lower = raw.trim().toLowerCase();
  if (TRUE.has(lower)) return true;
  if (FALSE.has(lower)) return false;
  throw new ConfigError(envName, raw, "expected true or false");
}

export function wholeNumber(picked: Picked | undefined): number | undefined {
  if (!picked) return undefined;
  const n = Number(picked.value);
  if (!/^\s*\d+\s*$/.test(picked.value) || !Number.isSafeInteger(n)) {
    throw new ConfigError(picked.from, picked.value, "expected a whole number");
  }
  return n;
}

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

export function secret(env: Env, name: string): Secret | undefined {
  const value = env[name];
  const file = env[`${name}_FILE`];
  if (value && file) {
    throw new ConfigError(`${name}_FILE`, file, `give ${name} or ${name}_FILE, not both`);
  }
  if (value) return { value };
  if (file) return { file, from: `${name}_FILE` };
  return undefined;
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

/**
 * A repeatable flag, or else its variable as a comma-separated list; empty items dropped.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(listSetting(undefined, "--exclude", { BACKUP_EXCLUDE: "*.tmp, log/**,," }, "BACKUP_EXCLUDE"), {
 *   values: ["*.tmp", "log/**"],
 *   from: "BACKUP_EXCLUDE",
 * });
 * ```
 */
export function listSetting(
  flag: string[] | undefined,
  flagName: string,
  env: Env,
  envName: string,
): { values: string[]; from: string } {
  if (flag !== undefined && flag.length > 0) return { values: flag, from: flagName };
  const values = (env[envName] ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "");
  return { values, from: envName };
}

/**
 * An http:// or https:// address from a flag or its variable, if given.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(httpUrlSetting("https://hc.example/x", "--ping-url", {}, "BACKUP_PING_URL"), {
 *   value: "https://hc.example/x",
 *   from: "--ping-url",
 * });
 * ```
 */
export function httpUrlSetting(
  flag: string | undefined,
  flagName: string,
  env: Env,
  envName: string,
): Picked | undefined {
  const picked = pick(flag, flagName, env, envName);
  if (picked && !/^https?:$/.test(URL.parse(picked.value)?.protocol ?? "")) {
    throw new ConfigError(picked.from, picked.value, "expected an http:// or https:// address");
  }
  return picked;
}
