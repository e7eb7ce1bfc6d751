import { deepStrictEqual, strictEqual } from "node:assert/strict";
import {
  type Clock,
  daemonLoop,
  MAX_SLEEP_MS,
  type RunReason,
  Wakeup,
} from "../../lib/daemon/daemon_loop.ts";
import { createLogger } from "../../lib/base/log.ts";
import { cronSlots } from "../../lib/daemon/schedule.ts";

interface Run {
  at: number;
  reason: RunReason;
  slot: number | undefined;
}

interface Scenario {
  pattern: string;
  tz: string;
  start: string;
  days?: number;
  /** Clock changes: when the clock first reaches `at`, it moves by `by` ms. */
  jumps?: { at: string; by: number }[];
  /** Sleeps are cut to this many ms at most (to act like a loop that polls). */
  sleepCap?: number;
  runMs?: number;
  runOnStart?: boolean;
  catchUp?: boolean;
  newestArchive?: string;
  /** Fires the wakeup (SIGUSR1) when the clock first reaches this. */
  wakeAt?: string;
}

const HOUR = 3_600_000;

/** Runs the loop on a simulated clock for `days` days and returns its runs and warnings. */
async function simulate(
  s: Scenario,
): Promise<{ runs: Run[]; warnings: string[]; wakes: number[]; sleeps: number[] }> {
  let t = Date.parse(s.start);
  const end = t + (s.days ?? 4) * 24 * HOUR;
  const jumps = (s.jumps ?? []).map((j) => ({ at: Date.parse(j.at), by: j.by, done: false }));
  const stop = new AbortController();
  const wakeup = new Wakeup();
  let wakeFired = false;
  const wakes: number[] = [];
  const sleeps: number[] = [];
  const advance = (ms: number) => {
    const target = t + ms;
    const jump = jumps.find((j) => !j.done && j.at > t && j.at <= target);
    if (jump) {
      jump.done = true;
      t = jump.at + jump.by;
    } else {
      t = target;
    }
    if (s.wakeAt && !wakeFired && t >= Date.parse(s.wakeAt)) {
      wakeFired = true;
      wakeup.fire();
    }
    if (t >= end) stop.abort();
  };
  const clock: Clock = {
    now: () => t,
    sleep: (ms) => {
      wakes.push(t);
      sleeps.push(ms);
      advance(Math.min(ms, s.sleepCap ?? Infinity));
      return Promise.resolve();
    },
  };
  const runs: Run[] = [];
  const warnings: string[] = [];
  await daemonLoop({
    clock,
    slots: cronSlots(s.pattern, s.tz),
    log: createLogger({
      write: (line) => {
        if (line.includes(" WARN ")) warnings.push(line.trim());
      },
      now: () => new Date(t),
    }),
    backup: (reason, slot) => {
      runs.push({ at: t, reason, slot });
      advance(s.runMs ?? 120_000);
      return Promise.resolve();
    },
    stop: stop.signal,
    wakeup,
    runOnStart: s.runOnStart ?? false,
    catchUp: s.catchUp ?? true,
    newestArchive: s.newestArchive === undefined ? undefined : Date.parse(s.newestArchive),
  });
  return { runs, warnings, wakes, sleeps };
}

function local(ms: number, tz: string): string {
  return new Date(ms).toLocaleString("sv-SE", { timeZone: tz });
}

const DST: [string, string, string, string[]][] = [
  // [zone, pattern, simulation start (UTC), expected local run times]
  ["Europe/Berlin", "0 1 * * *", "2027-03-26T12:00:00Z", [
    "2027-03-27 01:00:00",
    "2027-03-28 01:00:00",
    "2027-03-29 01:00:00",
    "2027-03-30 01:00:00",
  ]],
  ["Europe/Berlin", "30 2 * * *", "2027-03-26T12:00:00Z", [
    "2027-03-27 02:30:00",
    "2027-03-28 03:00:00",
    "2027-03-29 02:30:00",
    "2027-03-30 02:30:00",
  ]],
  ["Europe/Berlin", "0 1 * * *", "2027-10-29T12:00:00Z", [
    "2027-10-30 01:00:00",
    "2027-10-31 01:00:00",
    "2027-11-01 01:00:00",
    "2027-11-02 01:00:00",
  ]],
  ["Europe/Berlin", "30 2 * * *", "2027-10-29T12:00:00Z", [
    "2027-10-30 02:30:00",
    "2027-10-31 02:30:00",
    "2027-11-01 02:30:00",
    "2027-11-02 02:30:00",
  ]],
  ["America/Santiago", "0 1 * * *", "2027-04-02T12:00:00Z", [
    "2027-04-03 01:00:00",
    "2027-04-04 01:00:00",
    "2027-04-05 01:00:00",
    "2027-04-06 01:00:00",
  ]],
  ["America/Santiago", "30 2 * * *", "2027-09-03T12:00:00Z", [
    "2027-09-04 02:30:00",
    "2027-09-05 02:30:00",
    "2027-09-06 02:30:00",
    "2027-09-07 02:30:00",
  ]],
  // Santiago changes at midnight: 00:00 on 2027-09-05 does not exist, 23:30 on 2027-04-03 comes twice.
  ["America/Santiago", "0 0 * * *", "2027-09-03T12:00:00Z", [
    "2027-09-04 00:00:00",
    "2027-09-05 01:00:00",
    "2027-09-06 00:00:00",
    "2027-09-07 00:00:00",
  ]],
  ["America/Santiago", "30 23 * * *", "2027-04-02T12:00:00Z", [
    "2027-04-02 23:30:00",
    "2027-04-03 23:30:00",
    "2027-04-04 23:30:00",
    "2027-04-05 23:30:00",
  ]],
  // Lord Howe shifts by 30 minutes: 01:30-02:00 comes twice on 2027-04-04, 02:00-02:30 is skipped on 2027-10-03.
  ["Australia/Lord_Howe", "0 1 * * *", "2027-04-02T00:00:00Z", [
    "2027-04-03 01:00:00",
    "2027-04-04 01:00:00",
    "2027-04-05 01:00:00",
    "2027-04-06 01:00:00",
  ]],
  ["Australia/Lord_Howe", "30 2 * * *", "2027-10-01T00:00:00Z", [
    "2027-10-02 02:30:00",
    "2027-10-03 02:30:00",
    "2027-10-04 02:30:00",
    "2027-10-05 02:30:00",
  ]],
  ["Australia/Lord_Howe", "45 1 * * *", "2027-04-02T00:00:00Z", [
    "2027-04-03 01:45:00",
    "2027-04-04 01:45:00",
    "2027-04-05 01:45:00",
    "2027-04-06 01:45:00",
  ]],
  ["Australia/Lord_Howe", "15 2 * * *", "2027-10-01T00:00:00Z", [
    "2027-10-02 02:15:00",
    "2027-10-03 02:30:00",
    "2027-10-04 02:15:00",
    "2027-10-05 02:15:00",
  ]],
];

for (const [tz, pattern, start, expected] of DST) {
  Deno.test(`daemonLoop runs "${pattern}" exactly once a day in ${tz} when the clocks change (from ${start.slice(0, 10)})`, async () => {
    const { runs, warnings } = await simulate({ pattern, tz, start, days: 4 });
    deepStrictEqual(runs.map((r) => local(r.at, tz)), expected);
    deepStrictEqual(runs.map((r) => r.reason), ["slot", "slot", "slot", "slot"]);
    deepStrictEqual(runs.map((r) => r.at), runs.map((r) => r.slot));
    deepStrictEqual(warnings, []);
  });
}

Deno.test("daemonLoop runs a slot once, at once, when the clock jumps 3 h forward over it", async () => {
  const { runs } = await simulate({
    pattern: "0 1 * * *",
    tz: "UTC",
    start: "2027-01-10T00:00:00Z",
    days: 2,
    jumps: [{ at: "2027-01-10T00:30:00Z", by: 3 * HOUR }],
  });
  deepStrictEqual(
    runs.map((r) => [new Date(r.at).toISOString(), new Date(r.slot ?? 0).toISOString()]),
    [
      ["2027-01-10T03:30:00.000Z", "2027-01-10T01:00:00.000Z"],
      ["2027-01-11T01:00:00.000Z", "2027-01-11T01:00:00.000Z"],
    ],
  );
});

Deno.test("daemonLoop does not repeat a slot when the clock jumps 2 h back after it ran", async () => {
  const { runs } = await simulate({
    pattern: "0 1 * * *",
    tz: "UTC",
    start: "2027-01-10T00:00:00Z",
    days: 2,
    jumps: [{ at: "2027-01-10T01:10:00Z", by: -2 * HOUR }],
  });
  deepStrictEqual(runs.map((r) => new Date(r.at).toISOString()), [
    "2027-01-10T01:00:00.000Z",
    "2027-01-11T01:00:00.000Z",
  ]);
});

Deno.test("daemonLoop makes one catch-up run, not two, after a suspend spanning two slots", async () => {
  const { runs, warnings } = await simulate({
    pattern: "0 1 * * *",
    tz: "UTC",
    start: "2027-01-10T00:00:00Z",
    days: 3,
    jumps: [{ at: "2027-01-10T00:30:00Z", by: 26 * HOUR }],
  });
  deepStrictEqual(
    runs.map((r) => [new Date(r.at).toISOString(), new Date(r.slot ?? 0).toISOString()]),
    [
      ["2027-01-11T02:30:00.000Z", "2027-01-11T01:00:00.000Z"],
      ["2027-01-12T01:00:00.000Z", "2027-01-12T01:00:00.000Z"],
    ],
  );
  strictEqual(warnings.length, 1);
  strictEqual(
    warnings[0]?.includes(
      "missed slots while the host slept or the clock jumped; running once missed=1",
    ),
    true,
  );
});

Deno.test("daemonLoop runs a slot exactly once when it wakes twice inside the slot's minute", async () => {
  const { runs, wakes } = await simulate({
    pattern: "0 1 * * *",
    tz: "UTC",
    start: "2027-01-10T00:58:50Z",
    days: 1,
    sleepCap: 30_000,
    runMs: 5_000,
  });
  // A loop that asked "is it 01:00 now?" at each wake-up would have run at both of these:
  const wakesInTheMinute = wakes.filter((w) =>
    new Date(w).getUTCHours() === 1 && new Date(w).getUTCMinutes() === 0
  );
  strictEqual(wakesInTheMinute.length >= 2, true, "the loop woke twice in the 01:00 minute");
  deepStrictEqual(runs.map((r) => new Date(r.at).toISOString()), ["2027-01-10T01:00:00.000Z"]);
});

Deno.test("daemonLoop skips with a warning each slot that comes while a run is going", async () => {
  const { runs, warnings } = await simulate({
    pattern: "* * * * *",
    tz: "UTC",
    start: "2027-01-10T00:00:30Z",
    days: 8 / (24 * 60),
    runMs: 150_000,
  });
  deepStrictEqual(runs.map((r) => new Date(r.at).toISOString().slice(11, 19)), [
    "00:01:00",
    "00:04:00",
    "00:07:00",
  ]);
  deepStrictEqual(warnings.map((w) => w.replace(/^\S+ /, "")), [
    "WARN slot skipped: a run was going slot=2027-01-10T00:02:00.000Z",
    "WARN slot skipped: a run was going slot=2027-01-10T00:03:00.000Z",
    "WARN slot skipped: a run was going slot=2027-01-10T00:05:00.000Z",
    "WARN slot skipped: a run was going slot=2027-01-10T00:06:00.000Z",
  ]);
});

Deno.test("daemonLoop catches up once at start when a slot passed since the newest archive", async () => {
  const caught = await simulate({
    pattern: "0 1 * * *",
    tz: "UTC",
    start: "2027-01-10T12:00:00Z",
    days: 1,
    newestArchive: "2027-01-09T01:00:00Z",
  });
  deepStrictEqual(caught.runs.map((r) => [r.reason, new Date(r.at).toISOString()]), [
    ["catch-up", "2027-01-10T12:00:00.000Z"],
    ["slot", "2027-01-11T01:00:00.000Z"],
  ]);
  const current = await simulate({
    pattern: "0 1 * * *",
    tz: "UTC",
    start: "2027-01-10T12:00:00Z",
    days: 1,
    newestArchive: "2027-01-10T01:00:00Z",
  });
  deepStrictEqual(current.runs.map((r) => r.reason), ["slot"]);
  const off = await simulate({
    pattern: "0 1 * * *",
    tz: "UTC",
    start: "2027-01-10T12:00:00Z",
    days: 1,
    newestArchive: "2027-01-09T01:00:00Z",
    catchUp: false,
  });
  deepStrictEqual(off.runs.map((r) => r.reason), ["slot"]);
});

Deno.test("daemonLoop waits for the first slot when there is no archive, unless --run-on-start", async () => {
  const none = await simulate({
    pattern: "0 1 * * *",
    tz: "UTC",
    start: "2027-01-10T12:00:00Z",
    days: 1,
  });
  deepStrictEqual(none.runs.map((r) => [r.reason, new Date(r.at).toISOString()]), [
    ["slot", "2027-01-11T01:00:00.000Z"],
  ]);
  const onStart = await simulate({
    pattern: "0 1 * * *",
    tz: "UTC",
    start: "2027-01-10T12:00:00Z",
    days: 1,
    runOnStart: true,
  });
  deepStrictEqual(onStart.runs.map((r) => [r.reason, new Date(r.at).toISOString()]), [
    ["start", "2027-01-10T12:00:00.000Z"],
    ["slot", "2027-01-11T01:00:00.000Z"],
  ]);
});

Deno.test("daemonLoop runs at once when woken (SIGUSR1) and keeps the next slot", async () => {
  const { runs } = await simulate({
    pattern: "0 1 * * *",
    tz: "UTC",
    start: "2027-01-10T12:00:00Z",
    days: 1,
    wakeAt: "2027-01-10T15:00:00Z",
  });
  deepStrictEqual(runs.map((r) => [r.reason, new Date(r.at).toISOString()]), [
    ["signal", "2027-01-10T15:00:00.000Z"],
    ["slot", "2027-01-11T01:00:00.000Z"],
  ]);
});

Deno.test("daemonLoop never sleeps more than a minute between clock readings", async () => {
  // Runs take no time here, so every gap between two readings is one sleep.
  const { wakes, sleeps, runs } = await simulate({
    pattern: "0 1 * * *",
    tz: "UTC",
    start: "2027-01-10T12:00:00Z",
    days: 1,
    runMs: 0,
  });
  strictEqual(runs.length, 1);
  const gaps = wakes.slice(1).map((w, i) => w - (wakes[i] ?? 0));
  deepStrictEqual(gaps.filter((gap) => gap > MAX_SLEEP_MS), []);
  deepStrictEqual(sleeps.filter((ms) => ms > MAX_SLEEP_MS), []);
  // A day of minutes: the clock is read at least once a minute, not only at the slot.
  strictEqual(wakes.length >= 24 * 60, true, `${wakes.length} readings`);
});
