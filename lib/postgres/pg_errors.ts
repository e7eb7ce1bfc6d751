// What PostgreSQL and its driver said, in one line for the operator, and which server it
// was: host, port, database and user, never the password.

import { parsePostgresUrl } from "../settings/postgres_settings.ts";

/**
 * The server's address for messages: host, port, database and user, never the password.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(describeServer("postgres://app:secret@db:5433/shop"), "db:5433/shop as app");
 * ```
 */
export function describeServer(url: string): string {
  const parsed = parsePostgresUrl(url);
  if (!parsed) return "(an unreadable address)";
  const user = decodeURIComponent(parsed.username) || "the default user";
  const host = parsed.searchParams.get("host") ?? parsed.hostname;
  const port = parsed.searchParams.get("port") ?? (parsed.port || "5432");
  return `${host}:${port}${parsed.pathname || "/"} as ${user}`;
}

/** One line for what the driver or the server said. */
export function reason(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  if (code === "ECONNREFUSED") return "connection refused";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "host not found";
  if (code === "CONNECT_TIMEOUT") return "no answer within 30 s";
  if (typeof code === "string" && code.startsWith("CONNECTION_")) {
    return "the connection was closed";
  }
  return err instanceof Error ? err.message.split("\n")[0] ?? err.name : String(err);
}

/** What the role of `--postgres` needs, for messages about missing privileges. */
export const PRIVILEGES =
  "the role needs the REPLICATION attribute and EXECUTE on pg_control_system, pg_backup_start and pg_backup_stop (README: Consistency)";

/** Whether the server refused the login: a password it wants or does not accept (28P01, 28000). */
export function isAuthError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return code === "28P01" || code === "28000";
}

/** Whether PostgreSQL refused for want of a privilege (SQLSTATE 42501). */
export function isPrivilegeError(err: unknown): boolean {
  return (err as { code?: unknown })?.code === "42501";
}
