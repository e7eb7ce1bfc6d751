// How backupd reaches the server of `--postgres`, as libpq would: host, port, database and
// user from the URL (a Unix socket folder as `?host=/path`), and the password from
// PGPASSWORD(_FILE), the URL, or the password file (PGPASSFILE, else ~/.pgpass).

import { fsReason, RunError } from "../base/errors.ts";
import type { Logger } from "../base/log.ts";
import { readSecret } from "../base/secret.ts";
import { parsePostgresUrl, type PostgresTarget } from "../settings/postgres_settings.ts";

/** Where and as whom to connect. */
export interface Endpoint {
  /** A host name or address, or the folder of a Unix socket. */
  host: string;
  /** The port (also part of a Unix socket's file name). */
  port: number;
  /** The database. */
  database: string;
  /** The role. */
  user: string;
}

/** The libpq default socket folders: a password file line for `localhost` matches them. */
const DEFAULT_SOCKET_DIRS = new Set(["/var/run/postgresql", "/run/postgresql", "/tmp"]);

/**
 * The endpoint of a `postgres://` URL, libpq's way: `?host=` and `?port=`, `?user=`,
 * `?dbname=` win over the URL's parts; a host that is a path is a Unix socket folder.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(endpointOf("postgres://app@db:5433/shop"), { host: "db", port: 5433, database: "shop", user: "app" });
 * assertEquals(endpointOf("postgres://postgres@/shop?host=/var/run/postgresql"), {
 *   host: "/var/run/postgresql",
 *   port: 5432,
 *   database: "shop",
 *   user: "postgres",
 * });
 * ```
 */
export function endpointOf(url: string): Endpoint {
  const parsed = parsePostgresUrl(url);
  if (!parsed) throw new RunError(`Cannot read the PostgreSQL address "${url}"`);
  const query = parsed.searchParams;
  const user = query.get("user") ?? (decodeURIComponent(parsed.username) || "postgres");
  const host = query.get("host") ?? (decodeURIComponent(parsed.hostname) || "localhost");
  return {
    host,
    port: Number(query.get("port") ?? (parsed.port || "5432")),
    database: query.get("dbname") ?? (decodeURIComponent(parsed.pathname.slice(1)) || user),
    user,
  };
}

/**
 * The password for `endpoint` in a password file's text (`host:port:database:user:password`
 * lines, `*` matching anything, `\:` and `\\` escaped), as libpq reads it.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * const text = "# mine\ndb:*:shop:app:s3cr\\:et\nlocalhost:5432:*:postgres:local\n";
 * assertEquals(passwordFromFile(text, { host: "db", port: 5433, database: "shop", user: "app" }), "s3cr:et");
 * assertEquals(
 *   passwordFromFile(text, { host: "/var/run/postgresql", port: 5432, database: "x", user: "postgres" }),
 *   "local",
 * );
 * assertEquals(passwordFromFile(text, { host: "db", port: 5432, database: "other", user: "app" }), undefined);
 * ```
 */
export function passwordFromFile(text: string, endpoint: Endpoint): string | undefined {
  const hosts = [endpoint.host];
  if (DEFAULT_SOCKET_DIRS.has(endpoint.host)) hosts.push("localhost");
  for (const line of text.split("\n")) {
    if (line.trim() === "" || line.startsWith("#")) continue;
    const fields = splitFields(line);
    if (fields.length < 5) continue;
    const [host, port, database, user] = fields as [string, string, string, string];
    const password = fields.slice(4).join(":");
    const matches = (field: string, value: string) => field === "*" || field === value;
    if (
      hosts.some((h) => matches(host, h)) && matches(port, String(endpoint.port)) &&
      matches(database, endpoint.database) && matches(user, endpoint.user)
    ) {
      return password;
    }
  }
  return undefined;
}

/** A password file line's fields, `\:` and `\\` unescaped. */
function splitFields(line: string): string[] {
  const fields: string[] = [];
  let field = "";
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (c === "\\" && i + 1 < line.length) field += line[++i];
    else if (c === ":") {
      fields.push(field);
      field = "";
    } else field += c;
  }
  return [...fields, field];
}

/** Where a password was found, for messages: none says where it was looked for. */
export type PasswordSource = "given" | "url" | "passfile" | "none";

/**
 * The password for the server: PGPASSWORD or PGPASSWORD_FILE, else the URL's, else the
 * password file's line for this endpoint. A password file readable by others is ignored,
 * with a warning, as libpq does.
 */
export async function findPassword(
  target: PostgresTarget,
  endpoint: Endpoint,
  log: Logger,
): Promise<{ password?: string; source: PasswordSource }> {
  if (target.password) return { password: await readSecret(target.password), source: "given" };
  const inUrl = decodeURIComponent(parsePostgresUrl(target.url)?.password ?? "");
  if (inUrl !== "") return { password: inUrl, source: "url" };
  if (target.passfile === undefined) return { source: "none" };
  let text: string;
  try {
    const info = await Deno.stat(target.passfile);
    if ((info.mode ?? 0) & 0o077) {
      log.warn("password file ignored: it may be read by others; chmod 0600 it", {
        path: target.passfile,
      });
      return { source: "none" };
    }
    text = await Deno.readTextFile(target.passfile);
  } catch (err) {
    // No password file is the usual case: there is then no password to send.
    if (err instanceof Deno.errors.NotFound) return { source: "none" };
    throw new RunError(
      `Cannot read the password file "${target.passfile}": ${fsReason(err, target.passfile)}`,
      { cause: err },
    );
  }
  const password = passwordFromFile(text, endpoint);
  return password === undefined ? { source: "none" } : { password, source: "passfile" };
}

/** What postgres.js takes for `endpoint`: a socket file for a folder, else host and port. */
export function driverAddress(endpoint: Endpoint): { host: string; port: number; path?: string } {
  if (!endpoint.host.startsWith("/")) return { host: endpoint.host, port: endpoint.port };
  return {
    host: "localhost",
    port: endpoint.port,
    path: `${endpoint.host}/.s.PGSQL.${endpoint.port}`,
  };
}

/**
 * Why the server refused a connection that carried no password, said as that; other
 * refusals stand as the server said them.
 */
export function noPasswordHint(source: PasswordSource, passfile: string | undefined): string {
  if (source !== "none") return "";
  const file = passfile ?? "~/.pgpass";
  return ` (no password was given: set PGPASSWORD or PGPASSWORD_FILE, put it in the URL, or in the password file "${file}" (PGPASSFILE))`;
}
