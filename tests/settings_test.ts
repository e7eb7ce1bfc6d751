import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import { ConfigError } from "../lib/errors.ts";
import { resolveSettings } from "../lib/settings.ts";

const SYSTEM = { timeZone: "Europe/Berlin" };

Deno.test("resolveSettings takes a flag over the environment over the default", () => {
  const env = { BACKUP_SOURCE: "/env-src", BACKUP_DEST: "/env-dest", TZ: "Asia/Tokyo" };
  const fromEnv = resolveSettings({}, env, SYSTEM);
  deepStrictEqual([fromEnv.source, fromEnv.dest, fromEnv.tz], [
    "/env-src",
    "/env-dest",
    "Asia/Tokyo",
  ]);
  const fromFlags = resolveSettings({ source: "/f", dest: "/d", tz: "UTC" }, env, SYSTEM);
  deepStrictEqual([fromFlags.source, fromFlags.dest, fromFlags.tz], ["/f", "/d", "UTC"]);
  const defaults = resolveSettings({}, {}, SYSTEM);
  deepStrictEqual(
    [
      defaults.source,
      defaults.dest,
      defaults.tz,
      defaults.schedule,
      defaults.catchUp,
      defaults.runOnStart,
    ],
    ["/data", "/backup", "Europe/Berlin", "0 1 * * *", true, false],
  );
  deepStrictEqual([defaults.compression, defaults.logFormat, defaults.excludes, defaults.keep], [
    "gzip",
    "text",
    [],
    {},
  ]);
});

Deno.test("resolveSettings lets the environment beat a task's --default-source", () => {
  const settings = resolveSettings(
    { defaultSource: "./dbdata" },
    { BACKUP_SOURCE: "/srv" },
    SYSTEM,
  );
  strictEqual(settings.source, "/srv");
  strictEqual(resolveSettings({ defaultSource: "./dbdata" }, {}, SYSTEM).source, "./dbdata");
});

Deno.test("resolveSettings splits BACKUP_EXCLUDE on commas and reads retention numbers", () => {
  const settings = resolveSettings({}, {
    BACKUP_EXCLUDE: "*.tmp, pg_wal ,,",
    BACKUP_KEEP_LAST: "3",
    BACKUP_KEEP_MONTHLY: "12",
    BACKUP_CATCH_UP: "false",
    BACKUP_RUN_ON_START: "yes",
    TZ: ":UTC",
  }, SYSTEM);
  deepStrictEqual(settings.excludes, ["*.tmp", "pg_wal"]);
  deepStrictEqual(settings.keep, { last: 3, monthly: 12 });
  deepStrictEqual([settings.catchUp, settings.runOnStart, settings.tz], [false, true, "UTC"]);
});

Deno.test("resolveSettings throws a ConfigError naming the setting and value when a value is bad", () => {
  const cases: [Parameters<typeof resolveSettings>[0], Record<string, string>, string][] = [
    [{ tz: "Nowhere/City" }, {}, 'Cannot use --tz "Nowhere/City": unknown time zone'],
    [
      {},
      { BACKUP_SCHEDULE: "* * *" },
      'Cannot use BACKUP_SCHEDULE "* * *": expected 5 or 6 cron fields, got 3',
    ],
    [{ keepWeekly: "2.5" }, {}, 'Cannot use --keep-weekly "2.5": expected a whole number'],
    [
      {},
      { BACKUP_CATCH_UP: "maybe" },
      'Cannot use BACKUP_CATCH_UP "maybe": expected true or false',
    ],
    [{ logFormat: "xml" }, {}, 'Cannot use --log-format "xml": expected text or json'],
    [
      { exclude: ["/abs"] },
      {},
      'Cannot use --exclude "/abs": expected a path relative to the source',
    ],
  ];
  for (const [flags, env, message] of cases) {
    throws(
      () => resolveSettings(flags, env, SYSTEM),
      (err) => err instanceof ConfigError && err.message === message,
    );
  }
});
