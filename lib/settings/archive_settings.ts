// What is archived and kept: SOURCE and DEST, the excludes, the compression, retention.

import { ConfigError } from "../base/errors.ts";
import { globProblem } from "../base/glob.ts";
import { type Compression, EXTENSIONS } from "../store/names.ts";
import type { KeepPolicy } from "../store/retention.ts";
import { SETTINGS } from "./catalog.ts";
import { parseDuration } from "./value_checks.ts";
import type { Resolver } from "./resolver.ts";

/** What is archived, from where to where, and how long it is kept. */
export interface ArchiveSettings {
  /** Folder to back up. */
  source: string;
  /** Folder the archives go to. */
  dest: string;
  /** Globs of paths relative to the source to leave out. */
  excludes: string[];
  /** Archive compression. */
  compression: Compression;
  /** Retention rules. */
  keep: KeepPolicy;
  /** Copy a running PostgreSQL's folder plainly all the same (BACKUP_ALLOW_LIVE_COPY). */
  allowLiveCopy: boolean;
}

const RULES = [
  ["last", "keepLast"],
  ["daily", "keepDaily"],
  ["weekly", "keepWeekly"],
  ["monthly", "keepMonthly"],
] as const;

/**
 * SOURCE and DEST (a task's `--default-*` comes after the environment), the excludes, the
 * compression and the retention rules.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { Resolver } from "./resolver.ts";
 * const r = new Resolver({ defaultSource: "./dbdata", keepLast: "3" }, {
 *   BACKUP_SOURCE: "/srv",
 *   BACKUP_COMPRESSION: "zstd",
 * });
 * assertEquals(archiveSettings(r), {
 *   source: "/srv",
 *   dest: "/backup",
 *   excludes: [],
 *   compression: "zstd",
 *   keep: { last: 3 },
 *   allowLiveCopy: false,
 * });
 * ```
 */
export function archiveSettings(r: Resolver): ArchiveSettings {
  const source = r.folder("source") ?? r.pick("defaultSource")?.value ?? SETTINGS.source.default;
  const dest = r.folder("dest") ?? r.pick("defaultDest")?.value ?? SETTINGS.dest.default;
  const { values: excludes, from } = r.list("exclude");
  for (const glob of excludes) {
    if (glob.startsWith("/")) {
      throw new ConfigError(from, glob, "expected a path relative to the source");
    }
    const problem = globProblem(glob);
    if (problem) throw new ConfigError(from, glob, problem);
  }
  const keep: KeepPolicy = {};
  for (const [rule, key] of RULES) {
    const n = r.wholeNumber(key);
    if (n !== undefined) keep[rule] = n;
  }
  // The recovery window reaches as far back as the daily rule unless it is given.
  const within = r.pick("keepWithin");
  if (within && within.value.trim() !== "off" && within.value.trim() !== "0") {
    keep.within = parseDuration(within.value, within.from);
  } else if (!within && (keep.daily ?? 0) > 0) {
    keep.within = (keep.daily as number) * 86_400_000;
  }
  const picked = r.pick("compression");
  const compression = picked?.value ?? SETTINGS.compression.default;
  if (!Object.hasOwn(EXTENSIONS, compression)) {
    throw new ConfigError(picked?.from ?? "--compression", compression, "expected gzip or zstd");
  }
  const allowLiveCopy = r.bool("allowLiveCopy", false);
  return { source, dest, excludes, compression: compression as Compression, keep, allowLiveCopy };
}
