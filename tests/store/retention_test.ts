import { deepStrictEqual, strictEqual } from "node:assert/strict";
import {
  archiveFileName,
  type ArchiveName,
  parseArchiveName,
  stampOf,
} from "../../lib/store/names.ts";
import {
  applyPolicy,
  hasRules,
  isoWeek,
  keepWindow,
  type WindowBase,
} from "../../lib/store/retention.ts";

function archive(day: string, time = "01-00-00", seq = 0): ArchiveName {
  const parsed = parseArchiveName(day, archiveFileName(time, seq, "gzip"));
  if (!parsed) throw new Error(`bad name ${day} ${time}`);
  return parsed;
}

function days(from: string, to: string): string[] {
  const out: string[] = [];
  for (
    let t = Date.parse(`${from}T00:00:00Z`);
    t <= Date.parse(`${to}T00:00:00Z`);
    t += 86_400_000
  ) {
    out.push(new Date(t).toISOString().slice(0, 10));
  }
  return out;
}

Deno.test("isoWeek puts the days around New Year in the right ISO week and year", () => {
  deepStrictEqual(
    [
      "2026-12-28",
      "2027-01-01",
      "2027-01-03",
      "2027-01-04",
      "2025-12-29",
      "2024-12-30",
      "2027-12-31",
    ].map(isoWeek),
    ["2026-W53", "2026-W53", "2026-W53", "2027-W01", "2026-W01", "2025-W01", "2027-W52"],
  );
});

Deno.test("applyPolicy keeps daily, weekly and monthly archives across month, week and year boundaries", () => {
  const archives = days("2026-12-20", "2027-01-10").map((d) => archive(d));
  const plan = applyPolicy(archives, { daily: 3, weekly: 2, monthly: 2 });
  deepStrictEqual(plan.keep, [
    "2027-01-10/01-00-00.tar.gz",
    "2027-01-09/01-00-00.tar.gz",
    "2027-01-08/01-00-00.tar.gz",
    "2027-01-03/01-00-00.tar.gz",
    "2026-12-31/01-00-00.tar.gz",
  ]);
  strictEqual(plan.remove.length, archives.length - 5);
  deepStrictEqual(plan.reasons.get("2027-01-10/01-00-00.tar.gz"), [
    "newest",
    "daily 2027-01-10",
    "weekly 2027-W01",
    "monthly 2027-01",
  ]);
  deepStrictEqual(plan.reasons.get("2027-01-03/01-00-00.tar.gz"), ["weekly 2026-W53"]);
  deepStrictEqual(plan.reasons.get("2026-12-31/01-00-00.tar.gz"), ["monthly 2026-12"]);
  deepStrictEqual(plan.reasons.get("2027-01-07/01-00-00.tar.gz"), ["matches no keep rule"]);
});

Deno.test("applyPolicy counts only days that have archives, as restic does", () => {
  const archives = ["2027-03-01", "2027-03-05", "2027-03-09", "2027-03-20"].map((d) => archive(d));
  deepStrictEqual(applyPolicy(archives, { daily: 3 }).keep, [
    "2027-03-20/01-00-00.tar.gz",
    "2027-03-09/01-00-00.tar.gz",
    "2027-03-05/01-00-00.tar.gz",
  ]);
});

Deno.test("applyPolicy keeps the newest of each day, and -N archives order after their second", () => {
  const archives = [
    archive("2027-05-01", "01-00-00"),
    archive("2027-05-01", "13-00-00"),
    archive("2027-05-01", "13-00-00", 1),
    archive("2027-05-02", "01-00-00"),
  ];
  const plan = applyPolicy(archives, { daily: 2 });
  deepStrictEqual(plan.keep, ["2027-05-02/01-00-00.tar.gz", "2027-05-01/13-00-00-1.tar.gz"]);
  deepStrictEqual(applyPolicy(archives, { last: 3 }).keep, [
    "2027-05-02/01-00-00.tar.gz",
    "2027-05-01/13-00-00-1.tar.gz",
    "2027-05-01/13-00-00.tar.gz",
  ]);
});

Deno.test("applyPolicy never removes the newest and removes nothing without a rule", () => {
  const archives = days("2027-02-01", "2027-02-05").map((d) => archive(d));
  deepStrictEqual(applyPolicy(archives, { last: 1 }).keep, ["2027-02-05/01-00-00.tar.gz"]);
  const none = applyPolicy(archives, {});
  deepStrictEqual([none.keep.length, none.remove.length], [5, 0]);
  deepStrictEqual(none.reasons.get("2027-02-01/01-00-00.tar.gz"), ["no retention rule is set"]);
  deepStrictEqual(applyPolicy([], { last: 3 }), { keep: [], remove: [], reasons: new Map() });
});

Deno.test("applyPolicy takes a rule of 0 as turned off, and removes nothing when every rule is", () => {
  const archives = days("2027-02-01", "2027-02-05").map((d) => archive(d));
  const off = applyPolicy(archives, { last: 0, daily: 0, weekly: 0, monthly: 0 });
  deepStrictEqual([off.keep.length, off.remove.length], [5, 0]);
  deepStrictEqual(off.reasons.get("2027-02-01/01-00-00.tar.gz"), ["no retention rule is set"]);
  strictEqual(hasRules({ last: 0, daily: 0, weekly: 0, monthly: 0 }), false);
  const daily = applyPolicy(archives, { last: 0, daily: 2 });
  deepStrictEqual(daily.keep, ["2027-02-05/01-00-00.tar.gz", "2027-02-04/01-00-00.tar.gz"]);
});

Deno.test("applyPolicy buckets by the local date of the zone the archives were named in", () => {
  // Archives made every day at 23:30 UTC: in Tokyo that is 08:30 the next day.
  const instants = days("2026-12-29", "2027-01-03").map((d) => Date.parse(`${d}T23:30:00Z`));
  const kept = (tz: string) => {
    const named = instants.map((t) => {
      const stamp = stampOf(t, tz);
      return { instant: t, archive: archive(stamp.day, stamp.time) };
    });
    const plan = applyPolicy(named.map((n) => n.archive), { weekly: 1, monthly: 2 });
    return named.filter((n) => plan.keep.includes(n.archive.path)).map((n) =>
      new Date(n.instant).toISOString().slice(0, 10)
    );
  };
  // UTC: 2027-01-03 is the newest (week 2026-W53, month 2027-01), 2026-12-31 closes December.
  deepStrictEqual(kept("UTC"), ["2026-12-31", "2027-01-03"]);
  // Tokyo: the same instants fall on 2027-01-04 (W01) ... and December ends with 2026-12-30 UTC.
  deepStrictEqual(kept("Asia/Tokyo"), ["2026-12-30", "2027-01-03"]);
});

const DAY = 86_400_000;

/** A base made at 01:00 UTC on `day` (and at `time`), ended five seconds later. */
function base(day: string, time = "01-00-00"): WindowBase {
  return {
    archive: archive(day, time).path,
    stoppedMs: Date.parse(`${day}T${time.replaceAll("-", ":")}Z`) + 5000,
  };
}

Deno.test("keepWindow keeps the morning base when a second backup the same day is all the daily rule keeps", () => {
  const morning = base("2026-12-03");
  const safety = base("2026-12-03", "10-00-00");
  const archives = [archive("2026-12-03"), archive("2026-12-03", "10-00-00")];
  const daily = applyPolicy(archives, { daily: 7 });
  deepStrictEqual(daily.remove, [morning.archive]);
  const now = Date.parse("2026-12-03T14:00:00Z");
  const plan = keepWindow(daily, [morning, safety], { within: 7 * DAY, now });
  deepStrictEqual(plan.remove, []);
  deepStrictEqual(plan.keep, [safety.archive, morning.archive]);
  deepStrictEqual(plan.window, {
    from: now - 7 * DAY,
    holder: morning.archive,
    recoverableFrom: morning.stoppedMs,
  });
  deepStrictEqual(plan.reasons.get(morning.archive), [
    `holds the recovery window from ${new Date(morning.stoppedMs).toISOString()}`,
  ]);
});

Deno.test("keepWindow moves the window's edge as days pass and never ahead of the promise", () => {
  const all = days("2026-12-01", "2026-12-31");
  let present: WindowBase[] = [];
  let previous = 0;
  for (const day of all) {
    // The daemon's day: a base every night (two on Sundays), then retention with daily 3
    // and a 7-day window over what earlier days left.
    const sunday = new Date(`${day}T00:00:00Z`).getUTCDay() === 0;
    present = [...present, base(day), ...(sunday ? [base(day, "12-00-00")] : [])];
    const now = Date.parse(`${day}T18:00:00Z`);
    const names = present.map((b) => parseArchiveName(...split(b.archive)) as ArchiveName);
    const plan = keepWindow(applyPolicy(names, { daily: 3 }), present, { within: 7 * DAY, now });
    const window = plan.window as NonNullable<typeof plan.window>;
    const held = present.find((b) => b.archive === window.holder) as WindowBase;
    // Every moment of the promise stays recoverable: the holder ended at or before its
    // start, or is the first base ever made.
    strictEqual(
      held.stoppedMs <= now - 7 * DAY || held.archive === base(all[0] as string).archive,
      true,
      day,
    );
    // It moves on: never back, and never more than a day behind the promise.
    strictEqual(held.stoppedMs >= previous, true, `the edge went back on ${day}`);
    if (now - 7 * DAY > Date.parse(`${all[0]}T01:00:05Z`)) {
      strictEqual(held.stoppedMs > now - 8 * DAY, true, `the edge stayed behind on ${day}`);
    }
    previous = held.stoppedMs;
    present = present.filter((b) => plan.keep.includes(b.archive));
  }
  // A 7-day window and daily 3 keep about eight bases, not the month.
  strictEqual(present.length <= 10, true, present.map((b) => b.archive).join(" "));
});

Deno.test("keepWindow changes nothing without a window or without bases", () => {
  const archives = [archive("2026-12-03"), archive("2026-12-04")];
  const plan = applyPolicy(archives, { last: 1 });
  const now = Date.parse("2026-12-04T12:00:00Z");
  deepStrictEqual(keepWindow(plan, [base("2026-12-03")], { within: undefined, now }), plan);
  deepStrictEqual(keepWindow(plan, [], { within: 7 * DAY, now }), plan);
});

function split(path: string): [string, string] {
  const [day, file] = path.split("/");
  return [day as string, file as string];
}
