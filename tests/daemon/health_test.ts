import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { assessHealth } from "../../lib/daemon/health.ts";
import { cronSlots } from "../../lib/daemon/schedule.ts";

const slots = cronSlots("0 1 * * *", "UTC");
const at = (iso: string) => Date.parse(iso);

Deno.test("assessHealth is healthy before the first slot when there is no archive", () => {
  deepStrictEqual(
    assessHealth({
      now: at("2027-01-10T12:00:00Z"),
      slots,
      lastRun: undefined,
      newestArchive: undefined,
      daemonStarted: at("2027-01-10T11:00:00Z"),
      tz: "UTC",
    }),
    { healthy: true, reason: "no archive yet; the first slot is 2027-01-11T01:00:00+00:00" },
  );
  // Still healthy within the hour after the first slot.
  deepStrictEqual(
    assessHealth({
      now: at("2027-01-11T01:59:00Z"),
      slots,
      lastRun: undefined,
      newestArchive: undefined,
      daemonStarted: at("2027-01-10T11:00:00Z"),
      tz: "UTC",
    }).healthy,
    true,
  );
});

Deno.test("assessHealth is unhealthy when the first slot passed over an hour ago with no archive", () => {
  deepStrictEqual(
    assessHealth({
      now: at("2027-01-11T02:01:00Z"),
      slots,
      lastRun: undefined,
      newestArchive: undefined,
      daemonStarted: at("2027-01-10T11:00:00Z"),
      tz: "UTC",
    }),
    {
      healthy: false,
      reason:
        "no archive yet, and the first slot (2027-01-11T01:00:00+00:00) passed over an hour ago",
    },
  );
});

Deno.test("assessHealth is healthy after a successful run", () => {
  deepStrictEqual(
    assessHealth({
      now: at("2027-01-11T09:00:00Z"),
      slots,
      lastRun: { started: "2027-01-11T01:00:00Z", finished: "2027-01-11T01:00:09Z", result: "ok" },
      newestArchive: at("2027-01-11T01:00:00Z"),
      daemonStarted: at("2027-01-01T00:00:00Z"),
      tz: "UTC",
    }),
    { healthy: true, reason: "the newest archive is from 2027-01-11T01:00:00+00:00" },
  );
});

Deno.test("assessHealth judges an interrupted run by the newest archive, not as a failure", () => {
  const interrupted = {
    started: "2027-01-11T08:00:00Z",
    finished: "2027-01-11T08:00:01Z",
    result: "interrupted" as const,
    error: "Cannot finish the run: interrupted by SIGINT",
  };
  deepStrictEqual(
    assessHealth({
      now: at("2027-01-11T09:00:00Z"),
      slots,
      lastRun: interrupted,
      newestArchive: at("2027-01-11T01:00:00Z"),
      daemonStarted: at("2027-01-01T00:00:00Z"),
      tz: "UTC",
    }),
    { healthy: true, reason: "the newest archive is from 2027-01-11T01:00:00+00:00" },
  );
  strictEqual(
    assessHealth({
      now: at("2027-01-12T09:00:00Z"),
      slots,
      lastRun: interrupted,
      newestArchive: at("2027-01-11T01:00:00Z"),
      daemonStarted: at("2027-01-01T00:00:00Z"),
      tz: "UTC",
    }).healthy,
    false,
  );
});

Deno.test("assessHealth is unhealthy after a failed run, saying why", () => {
  deepStrictEqual(
    assessHealth({
      now: at("2027-01-11T09:00:00Z"),
      slots,
      lastRun: {
        started: "2027-01-11T01:00:00Z",
        finished: "2027-01-11T01:00:02Z",
        result: "failed",
        error: "disk full",
      },
      newestArchive: at("2027-01-10T01:00:00Z"),
      daemonStarted: undefined,
      tz: "UTC",
    }),
    { healthy: false, reason: "the last run failed at 2027-01-11T01:00:02Z: disk full" },
  );
});

Deno.test("assessHealth is unhealthy when a slot passed more than an hour ago without an archive since", () => {
  const input = {
    slots,
    lastRun: {
      started: "2027-01-10T01:00:00Z",
      finished: "2027-01-10T01:00:09Z",
      result: "ok" as const,
    },
    newestArchive: at("2027-01-10T01:00:00Z"),
    daemonStarted: undefined,
    tz: "UTC",
  };
  deepStrictEqual(assessHealth({ ...input, now: at("2027-01-11T01:59:59Z") }).healthy, true);
  deepStrictEqual(assessHealth({ ...input, now: at("2027-01-11T02:00:01Z") }), {
    healthy: false,
    reason:
      "no archive since the slot of 2027-01-11T01:00:00+00:00 (newest: 2027-01-10T01:00:00+00:00)",
  });
});
