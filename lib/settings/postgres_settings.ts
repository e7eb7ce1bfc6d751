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
export function postgresSettings(r: Resolver): { postgres?: PostgresTarget } {
  const picked = r.pick("postgres");
  if (!picked) return {};
  const url = URL.parse(picked.value);
  if (!url || !/^postgres(ql)?:$/.test(url.protocol) || url.hostname === "") {
    throw new ConfigError(
      picked.from,
      maskPassword(picked.value),
      "expected postgres://USER@HOST:PORT/DATABASE",
    );
  }
  const password = r.secret("postgresPassword");
  return { postgres: { url: picked.value, ...(password ? { password } : {}) } };
}
