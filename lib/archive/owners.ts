// User and group names for the uid and gid of archived files, read from /etc/passwd and
// /etc/group as tar does; where those are missing, entries carry numeric owners only.

/** Names of uids and gids. */
export interface OwnerNames {
  /** The user name of `uid`, if the system knows one. */
  user(uid: number): string | undefined;
  /** The group name of `gid`, if the system knows one. */
  group(gid: number): string | undefined;
}

/**
 * Parses a passwd- or group-style file: `name:x:id:...` per line.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(parseIdFile("root:x:0:0::/root:/bin/sh\npostgres:x:999:999::/:/bin/sh\n").get(999), "postgres");
 * ```
 */
export function parseIdFile(text: string): Map<number, string> {
  const names = new Map<number, string>();
  for (const line of text.split("\n")) {
    const [name, , id] = line.split(":");
    if (!name || id === undefined || !/^\d+$/.test(id) || line.startsWith("#")) continue;
    if (!names.has(Number(id))) names.set(Number(id), name);
  }
  return names;
}

async function readIdFile(path: string): Promise<Map<number, string>> {
  try {
    return parseIdFile(await Deno.readTextFile(path));
  } catch (err) {
    // A system without the file (a distroless image) or without read access: numeric owners only.
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.PermissionDenied) {
      return new Map();
    }
    throw err;
  }
}

/**
 * Loads the names of this system's users and groups.
 *
 * @example
 * ```ts ignore
 * const owners = await loadOwnerNames();
 * owners.user(0); // "root"
 * ```
 */
export async function loadOwnerNames(
  passwd = "/etc/passwd",
  group = "/etc/group",
): Promise<OwnerNames> {
  const [users, groups] = await Promise.all([readIdFile(passwd), readIdFile(group)]);
  return { user: (uid) => users.get(uid), group: (gid) => groups.get(gid) };
}
