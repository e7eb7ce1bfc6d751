import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import { ConfigError } from "../../lib/base/errors.ts";
import { resolveSettings } from "../../lib/settings/settings.ts";

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

const RECIPIENT = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";

Deno.test("resolveSettings reads the off-site settings from flags over the environment", () => {
  const env = {
    BACKUP_S3_URL: "s3://env-bucket/env",
    BACKUP_S3_ENDPOINT: "http://127.0.0.1:7480",
    BACKUP_S3_PATH_STYLE: "true",
    BACKUP_AGE_RECIPIENTS: `${RECIPIENT}, ${RECIPIENT}`,
    BACKUP_AGE_IDENTITY_FILE: "/run/secrets/age",
    AWS_ACCESS_KEY_ID: "id",
    AWS_SECRET_ACCESS_KEY_FILE: "/run/secrets/s3",
  };
  const fromEnv = resolveSettings({}, env, SYSTEM);
  deepStrictEqual(fromEnv.s3, { bucket: "env-bucket", prefix: "env" });
  deepStrictEqual(fromEnv.s3Connection, {
    endpoint: "http://127.0.0.1:7480",
    region: "us-east-1",
    pathStyle: true,
  });
  deepStrictEqual(fromEnv.ageRecipients, [RECIPIENT, RECIPIENT]);
  strictEqual(fromEnv.ageIdentityFile, "/run/secrets/age");
  deepStrictEqual(fromEnv.s3Credentials, {
    accessKeyId: { value: "id" },
    secretAccessKey: { file: "/run/secrets/s3", from: "AWS_SECRET_ACCESS_KEY_FILE" },
  });
  const fromFlags = resolveSettings(
    {
      s3Url: "s3://flag-bucket/a/b/",
      s3Region: "eu-central-1",
      s3PathStyle: false,
      ageRecipient: [RECIPIENT],
    },
    env,
    SYSTEM,
  );
  deepStrictEqual(fromFlags.s3, { bucket: "flag-bucket", prefix: "a/b" });
  deepStrictEqual([fromFlags.s3Connection.region, fromFlags.s3Connection.pathStyle], [
    "eu-central-1",
    false,
  ]);
  deepStrictEqual(fromFlags.ageRecipients, [RECIPIENT]);
  const none = resolveSettings({}, {}, SYSTEM);
  deepStrictEqual([none.s3, none.s3Credentials, none.ageRecipients], [undefined, undefined, []]);
  deepStrictEqual(resolveSettings({ s3Url: "s3://top-level" }, {}, SYSTEM).s3, {
    bucket: "top-level",
    prefix: "",
  });
});

Deno.test("resolveSettings names the setting and value of each bad off-site value", () => {
  const cases: [Parameters<typeof resolveSettings>[0], Record<string, string>, string][] = [
    [{ s3Url: "https://bucket/x" }, {}, 'Cannot use --s3-url "https://bucket/x": expected s3://'],
    [{ s3Url: "s3://B_ad/x" }, {}, 'Cannot use --s3-url "s3://B_ad/x": the bucket name must'],
    [{ s3Url: "s3://bucket/a/../b" }, {}, 'without "." or ".." parts'],
    [{}, { BACKUP_S3_ENDPOINT: "127.0.0.1:7480" }, 'Cannot use BACKUP_S3_ENDPOINT "127.0.0.1'],
    [{}, { BACKUP_S3_PATH_STYLE: "maybe" }, 'Cannot use BACKUP_S3_PATH_STYLE "maybe"'],
    [{ ageRecipient: ["ssh-ed25519 AAAA"] }, {}, 'Cannot use --age-recipient "ssh-ed25519'],
    [{}, { BACKUP_AGE_RECIPIENTS: "age1nope" }, 'Cannot use BACKUP_AGE_RECIPIENTS "age1nope"'],
    [{}, { AWS_ACCESS_KEY_ID: "id" }, "Cannot use AWS_SECRET_ACCESS_KEY"],
    [
      {},
      { AWS_ACCESS_KEY_ID: "id", AWS_ACCESS_KEY_ID_FILE: "/f", AWS_SECRET_ACCESS_KEY: "s" },
      "give AWS_ACCESS_KEY_ID or AWS_ACCESS_KEY_ID_FILE, not both",
    ],
  ];
  for (const [flags, env, message] of cases) {
    throws(() => resolveSettings(flags, env, SYSTEM), (err: unknown) => {
      strictEqual(err instanceof ConfigError, true, String(err));
      strictEqual((err as Error).message.includes(message), true, (err as Error).message);
      return true;
    });
  }
});

Deno.test("resolveSettings reads --postgres over BACKUP_POSTGRES_URL, with PGPASSWORD or PGPASSWORD_FILE", () => {
  const env = {
    BACKUP_POSTGRES_URL: "postgres://employees@employee-db:5432/employees",
    PGPASSWORD_FILE: "/run/secrets/pg",
  };
  deepStrictEqual(resolveSettings({}, env, SYSTEM).postgres, {
    url: "postgres://employees@employee-db:5432/employees",
    password: { file: "/run/secrets/pg", from: "PGPASSWORD_FILE" },
  });
  deepStrictEqual(
    resolveSettings({ postgres: "postgresql://a@h/db" }, {
      ...env,
      PGPASSWORD_FILE: "",
      PGPASSWORD: "pw",
    }, SYSTEM)
      .postgres,
    { url: "postgresql://a@h/db", password: { value: "pw" } },
  );
  strictEqual(resolveSettings({}, { BACKUP_POSTGRES_URL: "" }, SYSTEM).postgres, undefined);
});

Deno.test("resolveSettings names a bad --postgres value with its password masked", () => {
  const cases: [Parameters<typeof resolveSettings>[0], Record<string, string>, string][] = [
    [{ postgres: "" }, {}, 'Cannot use --postgres "": expected postgres://USER@HOST:PORT/DATABASE'],
    [
      {},
      { BACKUP_POSTGRES_URL: "mysql://root:hunter2@db/x" },
      'Cannot use BACKUP_POSTGRES_URL "mysql://root:***@db/x": expected postgres://',
    ],
    [{ postgres: "postgres:///db" }, {}, 'Cannot use --postgres "postgres:///db": expected'],
    [
      { postgres: "postgres://a@h/db" },
      { PGPASSWORD: "x", PGPASSWORD_FILE: "/f" },
      'Cannot use PGPASSWORD_FILE "/f": give PGPASSWORD or PGPASSWORD_FILE, not both',
    ],
  ];
  for (const [flags, env, message] of cases) {
    throws(() => resolveSettings(flags, env, SYSTEM), (err: unknown) => {
      strictEqual(err instanceof ConfigError, true, String(err));
      strictEqual((err as Error).message.startsWith(message), true, (err as Error).message);
      strictEqual((err as Error).message.includes("hunter2"), false);
      return true;
    });
  }
});

Deno.test("resolveSettings refuses an empty folder and an unterminated glob, naming the setting", () => {
  const cases: [Parameters<typeof resolveSettings>[0], Record<string, string>, string][] = [
    [{ source: "" }, {}, 'Cannot use --source "": expected a folder'],
    [{ dest: "" }, {}, 'Cannot use --dest "": expected a folder'],
    [{}, { BACKUP_SOURCE: "" }, 'Cannot use BACKUP_SOURCE "": expected a folder'],
    [{}, { BACKUP_DEST: "" }, 'Cannot use BACKUP_DEST "": expected a folder'],
    [{ exclude: ["["] }, {}, 'Cannot use --exclude "[": an unterminated [ set'],
    [
      {},
      { BACKUP_EXCLUDE: "*.tmp,log/[0-9" },
      'Cannot use BACKUP_EXCLUDE "log/[0-9": an unterminated [ set',
    ],
  ];
  for (const [flags, env, message] of cases) {
    throws(() => resolveSettings(flags, env, SYSTEM), (err: unknown) => {
      strictEqual(err instanceof ConfigError, true, String(err));
      strictEqual((err as Error).message, message);
      return true;
    });
  }
  strictEqual(resolveSettings({ source: "/srv" }, { BACKUP_SOURCE: "" }, SYSTEM).source, "/srv");
});
