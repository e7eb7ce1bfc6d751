// PostgreSQL's own programs for a restore drill (README: Restore drills): found in
// `--pg-bin`, else where `pg_config --bindir` says, else in Debian's
// /usr/lib/postgresql/<major>/bin for the major version of the archive's PG_VERSION; and of
// that major version, or refused.

import { RunError } from "../base/errors.ts";

/** The server programs of one major version. */
export interface PgPrograms {
  /** Their folder. */
  bin: string;
  /** Their major version. */
  major: number;
}

/** The programs a drill runs. */
export const DRILL_PROGRAMS = ["postgres", "pg_ctl", "pg_isready", "psql", "pg_amcheck"] as const;

async function output(program: string, args: string[]): Promise<string | undefined> {
  try {
    const result = await new Deno.Command(program, { args, stdout: "piped", stderr: "null" })
      .output();
    return result.success ? new TextDecoder().decode(result.stdout).trim() : undefined;
  } catch {
    // Not there, or not runnable.
    return undefined;
  }
}

/**
 * The major version a `--version` line states (`postgres (PostgreSQL) 15.18` is 15; 9.6 is 9).
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(majorOfVersion("postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"), 15);
 * assertEquals(majorOfVersion("nothing"), undefined);
 * ```
 */
export function majorOfVersion(line: string): number | undefined {
  const match = /\(PostgreSQL\) (\d+)/.exec(line);
  return match ? Number(match[1]) : undefined;
}

/**
 * Finds the programs for a data folder of major version `major`; `needed` must all be there.
 * A folder without them, or of another major version, is a `RunError` in one line.
 *
 * @example
 * ```ts ignore
 * const programs = await findPrograms(undefined, 15, ["postgres", "pg_ctl"]);
 * ```
 */
export async function findPrograms(
  pgBin: string | undefined,
  major: number,
  needed: readonly string[],
): Promise<PgPrograms> {
  if (pgBin) return await checkPrograms(pgBin, "--pg-bin", major, needed);
  // pg_config's folder first; Debian's folder of the archive's version when that is another.
  const configured = await output("pg_config", ["--bindir"]);
  const debian = `/usr/lib/postgresql/${major}/bin`;
  const candidates = [
    ...(configured ? [[configured, "pg_config --bindir"]] : []),
    [debian, "the archive's PG_VERSION"],
  ].filter(([bin], i, all) => all.findIndex(([other]) => other === bin) === i);
  let first: unknown;
  for (const [bin, from] of candidates) {
    try {
      return await checkPrograms(bin as string, from as string, major, needed);
    } catch (err) {
      first ??= err;
    }
  }
  throw first;
}

async function checkPrograms(
  bin: string,
  from: string,
  major: number,
  needed: readonly string[],
): Promise<PgPrograms> {
  for (const program of needed) {
    const info = await Deno.stat(`${bin}/${program}`).catch(() => undefined);
    if (!info?.isFile) {
      throw new RunError(
        `Cannot run the restore drill: no ${program} in "${bin}" (from ${from}); install PostgreSQL ${major}'s server programs or give --pg-bin`,
      );
    }
  }
  const found = majorOfVersion(await output(`${bin}/postgres`, ["--version"]) ?? "");
  if (found !== major) {
    throw new RunError(
      `Cannot run the restore drill: the programs in "${bin}" are PostgreSQL ${
        found ?? "of an unknown version"
      }, the archive's data folder is PostgreSQL ${major} (PG_VERSION); give --pg-bin with PostgreSQL ${major}'s`,
    );
  }
  return { bin, major };
}

/**
 * The name of a data folder's bootstrap superuser (the role with oid 10), read from
 * pg_authid's heap file as PostgreSQL lays it out on disk; `undefined` when it cannot be
 * read. The drill connects as it over the Unix socket.
 *
 * @example
 * ```ts ignore
 * const name = await bootstrapSuperuser("/tmp/drill/data"); // "postgres", or POSTGRES_USER's
 * ```
 */
export async function bootstrapSuperuser(data: string): Promise<string | undefined> {
  try {
    const map = await Deno.readFile(`${data}/global/pg_filenode.map`);
    const view = new DataView(map.buffer, map.byteOffset, map.byteLength);
    const count = view.getInt32(4, true);
    let file: number | undefined;
    for (let i = 0; i < count; i++) {
      if (view.getUint32(8 + i * 8, true) === 1260) file = view.getUint32(12 + i * 8, true);
    }
    if (file === undefined) return undefined;
    return superuserIn(await Deno.readFile(`${data}/global/${file}`));
  } catch {
    return undefined;
  }
}

const PAGE = 8192;
const LP_NORMAL = 1;
const HEAP_XMAX_INVALID = 0x0800;

/** The live row of oid 10 in pg_authid's pages: its rolname. */
function superuserIn(heap: Uint8Array): string | undefined {
  let found: string | undefined;
  for (let page = 0; page + PAGE <= heap.length; page += PAGE) {
    const view = new DataView(heap.buffer, heap.byteOffset + page, PAGE);
    const lower = view.getUint16(12, true);
    for (let lp = 24; lp + 4 <= lower; lp += 4) {
      const item = view.getUint32(lp, true);
      const offset = item & 0x7fff;
      const flags = (item >>> 15) & 0x3;
      if (flags !== LP_NORMAL || offset + 24 > PAGE) continue;
      const hoff = view.getUint8(offset + 22);
      const infomask = view.getUint16(offset + 20, true);
      const data = offset + hoff;
      if (data + 68 > PAGE || view.getUint32(data, true) !== 10) continue;
      const name = heap.subarray(page + data + 4, page + data + 68);
      const end = name.indexOf(0);
      const text = new TextDecoder().decode(name.subarray(0, end < 0 ? 64 : end));
      // A row version that was replaced has its xmax set: the live one wins.
      if ((infomask & HEAP_XMAX_INVALID) !== 0 || view.getUint32(offset + 4, true) === 0) {
        return text;
      }
      found ??= text;
    }
  }
  return found;
}
