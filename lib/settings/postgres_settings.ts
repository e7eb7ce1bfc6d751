// The PostgreSQL server whose backup API keeps the copy consistent (README: Consistency):
// its address from `--postgres` and its password from PGPASSWORD or PGPASSWORD_FILE.

import { ConfigError } from "../base/errors.ts";
import type { Secret } from "../base/secret.ts";
import type { Resolver } from "./resolver.ts";
import { maskPassword, parseDuration, parseSize } from "./value_checks.ts";

/** The server to back up through, from `--postgres` / `BACKUP_POSTGRES_URL`. */
export interface PostgresTarget {
  /** `postgres://USER@HOST:PORT/DATABASE`. */
  url: string;
  /** The password, when not in the URL: `PGPASSWORD` or `PGPASSWORD_FILE`. */
  password?: Secret;
  /** libpq's password file (PGPASSFILE, else ~/.pgpass), read when no password is given. */
  passfile?: string;
}

/**
 * Reads a `postgres://` URL as libpq does, where `postgres://USER@/DB?host=/SOCKET/FOLDER`
 * (no host: a Unix socket) is one too; none when it is no URL at all.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(parsePostgresUrl("postgres://app@/shop?host=/run/postgresql")?.searchParams.get("host"), "/run/postgresql");
 * assertEquals(parsePostgresUrl("postgres://app@db/shop")?.hostname, "db");
 * ```
 */
export function parsePostgresUrl(url: string): URL | undefined {
  // WHATWG URLs refuse a user without a host; libpq's do not: the host is then ?host=.
  return URL.parse(url.replace(/^(postgres(?:ql)?:\/\/[^/@?]*@)(?=[/?]|$)/, "$1localhost")) ??
    undefined;
}

/**
 * The server of `--postgres`, if given, and its password.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { Resolver } from "./resolver.ts";
 * assertEquals(postgresSettings(new Resolver({ postgres: "postgres://app@db/shop" }, { PGPASSWORD: "pw" })), {
 *   postgres: { url: "postgres://app@db/shop", password: { value: "pw" } },
 * });
 * ```
 */
export function postgresSettings(r: Resolver, home?: string): { postgres?: PostgresTarget } {
  const picked = r.pick("postgres");
  if (!picked) return {};
  const url = parsePostgresUrl(picked.value);
  // A Unix socket has no host in the URL: its folder is `?host=/path`, as libpq reads it.
  const socket = url?.searchParams.get("host")?.startsWith("/") ?? false;
  const hostless = /^postgres(ql)?:\/\/[^/@?]*@(?=[/?]|$)/.test(picked.value);
  if (
    !url || !/^postgres(ql)?:$/.test(url.protocol) || (hostless && !socket) || url.hostname === ""
  ) {
    throw new ConfigError(
      picked.from,
      maskPassword(picked.value),
      "expected postgres://USER@HOST:PORT/DATABASE, or postgres://USER@/DATABASE?host=/SOCKET/FOLDER",
    );
  }
  const password = r.secret("postgresPassword");
  const passfile = r.pick("postgresPassfile")?.value ?? (home ? `${home}/.pgpass` : undefined);
  return {
    postgres: {
      url: picked.value,
      ...(password ? { password } : {}),
      ...(passfile ? { passfile } : {}),
    },
  };
}

/** Continuous WAL archiving (README: Point-in-time recovery), on when `--postgres` is set. */
export interface WalSettings {
  /** Time between cycles, ms. */
  intervalMs: number;
  /** The permanent replication slot's name. */
  slot: string;
  /** The slot holding more WAL than this on the server is a warning and unhealthy. */
  maxRetainedBytes: number;
}

/**
 * WAL archiving's settings: on by default with `--postgres`, refused without it.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { Resolver } from "./resolver.ts";
 * assertEquals(walSettings(new Resolver({}, {}), true), {
 *   walSlot: "backupd",
 *   wal: { intervalMs: 10_000, slot: "backupd", maxRetainedBytes: 1073741824 },
 * });
 * assertEquals(walSettings(new Resolver({ wal: "off" }, {}), true), { walSlot: "backupd" });
 * ```
 */
export function walSettings(
  r: Resolver,
  postgres: boolean,
): { walSlot: string; wal?: WalSettings } {
  const slot = r.pick("walSlot");
  if (slot && !/^[a-z0-9_]{1,63}$/.test(slot.value)) {
    throw new ConfigError(
      slot.from,
      slot.value,
      "expected a slot name of lower-case letters, digits and _ (at most 63)",
    );
  }
  const walSlot = slot?.value ?? "backupd";
  const picked = r.pick("wal");
  const value = picked?.value.trim().toLowerCase() ?? (postgres ? "on" : "off");
  if (value !== "on" && value !== "off") {
    throw new ConfigError(picked?.from ?? "--wal", picked?.value ?? "", "expected on or off");
  }
  if (value === "off") return { walSlot };
  if (!postgres) {
    throw new ConfigError(
      picked?.from ?? "--wal",
      picked?.value ?? "",
      "WAL archiving needs --postgres postgres://USER@HOST:PORT/DATABASE",
    );
  }
  const interval = r.pick("walInterval");
  const max = r.pick("walMaxRetained");
  return {
    walSlot,
    wal: {
      intervalMs: parseDuration(interval?.value ?? "10s", interval?.from ?? "--wal-interval"),
      slot: walSlot,
      maxRetainedBytes: parseSize(max?.value ?? "1GiB", max?.from ?? "--wal-max-retained"),
    },
  };
}
