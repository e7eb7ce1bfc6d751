// The retention policy, as restic's `forget`: a pure function from the archives and the
// rules to what is kept and removed, with reasons. Only `prune` deletes anything.

import type { ArchiveName } from "./names.ts";

/** Retention rules; an absent rule, or one of 0, is not applied (0 is how a rule is turned off). */
export interface KeepPolicy {
  /** Keep the N newest. */
  last?: number;
  /** Keep the newest of each of N days. */
  daily?: number;
  /** Keep the newest of each of N ISO weeks. */
  weekly?: number;
  /** Keep the newest of each of N months. */
  monthly?: number;
}

/** The plan: every archive is in `keep` or `remove`, with its reasons. */
export interface PolicyResult {
  /** Paths to keep, newest first. */
  keep: string[];
  /** Paths to remove, newest first. */
  remove: string[];
  /** Why each path is kept (or removed). */
  reasons: Map<string, string[]>;
}

/**
 * Whether any retention rule is set.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals([hasRules({}), hasRules({ daily: 7 })], [false, true]);
 * ```
 */
export function hasRules(policy: KeepPolicy): boolean {
  return Object.values(policy).some((n) => n !== undefined && n > 0);
}

/**
 * The ISO 8601 week (`YYYY-Www`) of a date `YYYY-MM-DD`.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(isoWeek("2027-01-01"), "2026-W53");
 * ```
 */
export function isoWeek(day: string): string {
  const [y, m, d] = day.split("-").map(Number);
  const date = new Date(Date.UTC(y ?? 0, (m ?? 1) - 1, d ?? 1));
  const weekday = (date.getUTCDay() + 6) % 7; // Monday 0 ... Sunday 6
  date.setUTCDate(date.getUTCDate() - weekday + 3); // the Thursday of this week decides the year
  const year = date.getUTCFullYear();
  const jan4 = new Date(Date.UTC(year, 0, 4));
  const jan4Thursday = Date.UTC(year, 0, 4 - ((jan4.getUTCDay() + 6) % 7) + 3);
  const week = 1 + Math.round((date.getTime() - jan4Thursday) / (7 * 86_400_000));
  return `${year}-W${String(week).padStart(2, "0")}`;
}

function newestFirst(a: ArchiveName, b: ArchiveName): number {
  if (a.day !== b.day) return a.day < b.day ? 1 : -1;
  if (a.time !== b.time) return a.time < b.time ? 1 : -1;
  return b.seq - a.seq;
}

const RULES = [
  ["last", (a: ArchiveName) => a.path],
  ["daily", (a: ArchiveName) => a.day],
  ["weekly", (a: ArchiveName) => isoWeek(a.day)],
  ["monthly", (a: ArchiveName) => a.day.slice(0, 7)],
] as const;

/**
 * Decides which archives to keep. With no rule set, all are kept; the newest always is.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { parseArchiveName } from "./names.ts";
 * const archives = ["2027-01-01", "2027-01-02", "2027-01-03"]
 *   .map((day) => parseArchiveName(day, "01-00-00.tar.gz")!);
 * const plan = applyPolicy(archives, { last: 2 });
 * assertEquals(plan.keep, ["2027-01-03/01-00-00.tar.gz", "2027-01-02/01-00-00.tar.gz"]);
 * assertEquals(plan.remove, ["2027-01-01/01-00-00.tar.gz"]);
 * ```
 */
export function applyPolicy(archives: readonly ArchiveName[], policy: KeepPolicy): PolicyResult {
  const sorted = [...archives].sort(newestFirst);
  const reasons = new Map<string, string[]>(sorted.map((a) => [a.path, []]));
  const anyRule = hasRules(policy);
  for (const archive of sorted) {
    if (!anyRule) reasons.get(archive.path)?.push("no retention rule is set");
  }
  for (const [rule, bucketOf] of RULES) {
    const count = policy[rule];
    if (count === undefined || count === 0) continue;
    let left = count;
    let lastBucket: string | undefined;
    for (const archive of sorted) {
      if (left === 0) break;
      const bucket = bucketOf(archive);
      if (bucket === lastBucket) continue;
      lastBucket = bucket;
      left--;
      reasons.get(archive.path)?.push(rule === "last" ? `last ${count}` : `${rule} ${bucket}`);
    }
  }
  const newest = sorted[0];
  if (newest) reasons.get(newest.path)?.unshift("newest");
  const keep: string[] = [];
  const remove: string[] = [];
  for (const archive of sorted) {
    const why = reasons.get(archive.path) ?? [];
    if (why.length > 0) keep.push(archive.path);
    else {
      remove.push(archive.path);
      why.push("matches no keep rule");
    }
  }
  return { keep, remove, reasons };
}
