// The PostgreSQL server whose backup API keeps the copy consistent (README: Consistency):
// its address from `--postgres` and its password from PGPASSWORD or PGPASSWORD_FILE.

import { ConfigError } from "../base/errors.ts";
import type { Secret } from "../base/secret.ts";
import type { Resolver } from "./resolver.ts";
import { maskPassword } from "./value_checks.ts";

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
