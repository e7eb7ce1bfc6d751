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
  /**
   * The recovery window, ms (`--keep-within`): with WAL archived, the base backup that
   * keeps every moment of it recoverable is kept ({@linkcode keepWindow}).
   */
  within?: number;
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
  return RULES.some(([rule]) => (policy[rule] ?? 0) > 0);
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

/** A base backup as the recovery window sees it: its archive, and when it ended. */
export interface WindowBase {
  /** Its archive, relative to DEST. */
  archive: string;
  /** When the backup ended, Unix ms: the earliest moment it recovers to. */
  stoppedMs: number;
}

/** Where the promised recovery window starts, and the base that keeps it. */
export interface RecoveryWindow {
  /** Now minus the window, Unix ms: every moment since is to stay recoverable. */
  from: number;
  /** The base backup kept for it. */
  holder: string;
  /** When that base ended: the oldest moment that stays recoverable. */
  recoverableFrom: number;
}

/**
 * The retention plan with the recovery window kept: the newest base backup that ended at
 * or before `now - within` (or, when none is that old, the oldest base) is kept with the
 * reason, so the WAL from it stays too and no moment of the window becomes unrecoverable,
 * however many backups a day made; and so is every base inside the window, as restic's
 * `--keep-within` keeps snapshots, so tomorrow's holder is there tomorrow. Without
 * `within` or bases, the plan is returned as is.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { parseArchiveName } from "./names.ts";
 * const day = Date.UTC(2026, 11, 3);
 * const archives = ["01-00-00.tar.gz", "10-00-00.tar.gz"]
 *   .map((name) => parseArchiveName("2026-12-03", name)!);
 * const bases = [
 *   { archive: "2026-12-03/01-00-00.tar.gz", stoppedMs: day + 3_605_000 },
 *   { archive: "2026-12-03/10-00-00.tar.gz", stoppedMs: day + 36_005_000 },
 * ];
 * const daily = applyPolicy(archives, { daily: 7 });
 * assertEquals(daily.remove, ["2026-12-03/01-00-00.tar.gz"]);
 * const kept = keepWindow(daily, bases, { within: 7 * 86_400_000, now: day + 50_400_000 });
 * assertEquals(kept.remove, []);
 * assertEquals(kept.window?.holder, "2026-12-03/01-00-00.tar.gz");
 * ```
 */
export function keepWindow(
  plan: PolicyResult,
  bases: readonly WindowBase[],
  { within, now, show = (ms) => new Date(ms).toISOString() }: {
    within: number | undefined;
    now: number;
    show?: (ms: number) => string;
  },
): PolicyResult & { window?: RecoveryWindow } {
  const present = new Set([...plan.keep, ...plan.remove]);
  const candidates = bases.filter((b) => present.has(b.archive))
    .sort((a, b) => a.stoppedMs - b.stoppedMs);
  if (within === undefined || within <= 0 || candidates.length === 0) return plan;
  const from = now - within;
  const holder = candidates.filter((b) => b.stoppedMs <= from).at(-1) ??
    (candidates[0] as WindowBase);
  const reasons = new Map(plan.reasons);
  const held = new Set<string>();
  const hold = (archive: string, why: string) => {
    reasons.set(archive, [
      ...(reasons.get(archive) ?? []).filter((r) => r !== "matches no keep rule"),
      why,
    ]);
    held.add(archive);
  };
  hold(holder.archive, `holds the recovery window from ${show(Math.max(from, holder.stoppedMs))}`);
  // The bases inside the window stay too: each is the holder on a later day, so the window's
  // edge can move on with the days instead of staying at one old base.
  for (const b of candidates) {
    if (b !== holder && b.stoppedMs > from) hold(b.archive, "inside the recovery window");
  }
  const keep = [...new Set([...plan.keep, ...held])].sort((a, b) => (a < b ? 1 : -1));
  return {
    keep,
    remove: plan.remove.filter((path) => !held.has(path)),
    reasons,
    window: { from, holder: holder.archive, recoverableFrom: holder.stoppedMs },
  };
}
