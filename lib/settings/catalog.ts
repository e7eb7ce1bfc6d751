// Every setting declared once (README: Settings): its flag, its environment variable, its
// default, its help text and whether it is secret. The resolver, --help and `config` read it.

/** How a setting's flag takes its value. */
export type FlagKind = "value" | "list" | "switch";

/** One setting: what names it on the command line and in the environment. */
export interface SettingSpec {
  /** The name `config` shows; the flag without `--` unless given. */
  name?: string;
  /** Its flag as commander reads it (`--source <dir>`); none for a variable only. */
  flag?: string;
  /** How the flag takes its value. @default {"value"} */
  kind?: FlagKind;
  /** A switch's negation (`--no-catch-up`), with its help. */
  negation?: { flag: string; help: string };
  /** Its environment variable (a list: comma separated). */
  env?: string;
  /** The default, as `--help` and `config` show it; none: not set. */
  default?: string;
  /** What it does, for `--help`. */
  help: string;
  /** Read from the variable or from the file named by `<VAR>_FILE`; shown as `***`. */
  secret?: boolean;
  /** Not shown in `--help` nor `config` (the tasks' defaults). */
  hidden?: boolean;
}

/**
 * The settings, in the order `config` and README show them. Each key is commander's name
 * for the flag (`--s3-url` is `s3Url`).
 */
export const SETTINGS = {
  source: {
    flag: "--source <dir>",
    env: "BACKUP_SOURCE",
    default: "/data",
    help: "folder to back up",
  },
  dest: { flag: "--dest <dir>", env: "BACKUP_DEST", default: "/backup", help: "where archives go" },
  // The tasks' `./dbdata` and `./backup`, which the environment still beats.
  defaultSource: { flag: "--default-source <dir>", help: "the task's SOURCE", hidden: true },
  defaultDest: { flag: "--default-dest <dir>", help: "the task's DEST", hidden: true },
  schedule: {
    flag: "--schedule <cron>",
    env: "BACKUP_SCHEDULE",
    default: "0 1 * * *",
    help: "5 fields, or 6 with seconds first",
  },
  tz: {
    flag: "--tz <zone>",
    env: "TZ",
    default: "the system's",
    help: "IANA zone for archive names and the schedule",
  },
  catchUp: {
    flag: "--catch-up",
    kind: "switch",
    negation: { flag: "--no-catch-up", help: "do not catch up at start" },
    env: "BACKUP_CATCH_UP",
    default: "on",
    help: "at start, run once if a slot passed since the newest archive",
  },
  runOnStart: {
    flag: "--run-on-start",
    kind: "switch",
    env: "BACKUP_RUN_ON_START",
    default: "off",
    help: "back up once at start",
  },
  exclude: {
    flag: "--exclude <glob>",
    kind: "list",
    env: "BACKUP_EXCLUDE",
    help: "leave out paths relative to the source; repeatable",
  },
  keepLast: {
    flag: "--keep-last <n>",
    env: "BACKUP_KEEP_LAST",
    help: "retention: keep the N newest",
  },
  keepDaily: {
    flag: "--keep-daily <n>",
    env: "BACKUP_KEEP_DAILY",
    help: "retention: newest of each of N days",
  },
  keepWeekly: {
    flag: "--keep-weekly <n>",
    env: "BACKUP_KEEP_WEEKLY",
    help: "retention: newest of each of N ISO weeks",
  },
  keepMonthly: {
    flag: "--keep-monthly <n>",
    env: "BACKUP_KEEP_MONTHLY",
    help: "retention: newest of each of N months",
  },
  keepWithin: {
    flag: "--keep-within <duration>",
    env: "BACKUP_KEEP_WITHIN",
    help:
      "retention with WAL archiving: every moment this far back stays recoverable (7d; off; default: as far back as --keep-daily reaches)",
  },
  compression: {
    flag: "--compression <kind>",
    env: "BACKUP_COMPRESSION",
    default: "gzip",
    help: "gzip or zstd",
  },
  pingUrl: {
    flag: "--ping-url <url>",
    env: "BACKUP_PING_URL",
    help: "healthchecks-style pings: URL/start, URL, URL/fail",
  },
  notify: {
    flag: "--notify <url>",
    kind: "list",
    env: "BACKUP_NOTIFY_URLS",
    help:
      "send each run's result: smtp://HOST:PORT/?to=ADDR, http(s)://, slack+https://, ntfy://HOST/TOPIC; repeatable",
  },
  notifyOn: {
    flag: "--notify-on <when>",
    env: "BACKUP_NOTIFY_ON",
    default: "failure",
    help: "failure or always",
  },
  metricsListen: {
    flag: "--metrics-listen <addr>",
    env: "BACKUP_METRICS_LISTEN",
    help: "serve Prometheus metrics on HOST:PORT/metrics",
  },
  metricsFile: {
    flag: "--metrics-file <path>",
    env: "BACKUP_METRICS_FILE",
    help:
      "write Prometheus metrics there after every run, as node_exporter's textfile collector reads them",
  },
  logFormat: {
    flag: "--log-format <format>",
    env: "BACKUP_LOG_FORMAT",
    default: "text",
    help: "text or json",
  },
  preHook: {
    flag: "--pre-hook <command>",
    env: "BACKUP_PRE_HOOK",
    help: "run before archiving; failing fails the run",
  },
  postHook: {
    flag: "--post-hook <command>",
    env: "BACKUP_POST_HOOK",
    help: "always run after, with BACKUP_STATUS and BACKUP_ARCHIVE",
  },
  hookTimeout: {
    flag: "--hook-timeout <seconds>",
    env: "BACKUP_HOOK_TIMEOUT",
    default: "900",
    help: "how long a hook may run",
  },
  postgres: {
    flag: "--postgres <url>",
    env: "BACKUP_POSTGRES_URL",
    help:
      "consistent online backup through PostgreSQL's backup API: postgres://USER@HOST:PORT/DB; password from PGPASSWORD or PGPASSWORD_FILE",
  },
  postgresPassword: {
    name: "postgres password",
    env: "PGPASSWORD",
    secret: true,
    help: "the password for --postgres",
  },
  postgresPassfile: {
    name: "postgres password file",
    env: "PGPASSFILE",
    default: "~/.pgpass",
    help: "libpq's password file, read when no password is given otherwise",
  },
  wal: {
    flag: "--wal <on|off>",
    env: "BACKUP_WAL",
    default: "on with --postgres",
    help: "archive WAL continuously for point-in-time recovery (README: Point-in-time recovery)",
  },
  walInterval: {
    flag: "--wal-interval <duration>",
    env: "BACKUP_WAL_INTERVAL",
    default: "10s",
    help: "how often WAL is archived: at most this much of committed work is lost with the disk",
  },
  walSlot: {
    flag: "--wal-slot <name>",
    env: "BACKUP_WAL_SLOT",
    default: "backupd",
    help: "the permanent replication slot that holds WAL on the server until it is stored",
  },
  walMaxRetained: {
    flag: "--wal-max-retained <size>",
    env: "BACKUP_WAL_MAX_RETAINED",
    default: "1GiB",
    help: "warn and turn unhealthy when the slot holds more WAL than this on the server",
  },
  drillDir: {
    flag: "--drill-dir <dir>",
    env: "BACKUP_DRILL_DIR",
    default: "the system's temporary folder",
    help: "where a restore drill puts its scratch folder (removed after)",
  },
  drillCheck: {
    flag: "--drill-check <sql>",
    kind: "list",
    env: "BACKUP_DRILL_CHECKS",
    help:
      "a query the restored database must answer true in its first value; repeatable (variable: separated by ;)",
  },
  drillDatabase: {
    flag: "--drill-database <name>",
    env: "BACKUP_DRILL_DATABASE",
    default: "the database of --postgres, else postgres",
    help: "the database the drill's checks run in",
  },
  pgBin: {
    flag: "--pg-bin <dir>",
    env: "BACKUP_PG_BIN",
    default: "pg_config --bindir, else /usr/lib/postgresql/MAJOR/bin",
    help: "PostgreSQL's programs for restore drills",
  },
  drillSchedule: {
    flag: "--drill-schedule <cron>",
    env: "BACKUP_DRILL_SCHEDULE",
    default: "off",
    help: "when the daemon runs a restore drill of the newest archive (5 or 6 fields, in --tz)",
  },
  drillMaxAge: {
    flag: "--drill-max-age <duration>",
    env: "BACKUP_DRILL_MAX_AGE",
    default: "off",
    help: "health: unhealthy when no restore drill passed within this (8d, 36h)",
  },
  allowLiveCopy: {
    name: "allow-live-copy",
    env: "BACKUP_ALLOW_LIVE_COPY",
    default: "no",
    help: "yes copies a running PostgreSQL's folder without --postgres, a pre-hook or quiescing",
  },
  quiesce: {
    name: "quiesce",
    env: "BACKUP_QUIESCE",
    default: "on",
    help: "off turns the container labels off",
  },
  dockerHost: {
    name: "docker",
    env: "DOCKER_HOST",
    default: "unix:///var/run/docker.sock",
    help: "the Engine API for the container labels",
  },
  quiesceGroup: {
    name: "quiesce-group",
    env: "BACKUP_QUIESCE_GROUP",
    default: "this container's compose project",
    help: "the compose project whose labelled containers are quiesced",
  },
  s3Url: {
    flag: "--s3-url <url>",
    env: "BACKUP_S3_URL",
    help: "off-site copies go to s3://BUCKET/PREFIX",
  },
  s3Endpoint: {
    flag: "--s3-endpoint <url>",
    env: "BACKUP_S3_ENDPOINT",
    default: "AWS",
    help: "MinIO, Ceph RGW, B2, R2, ...",
  },
  s3Region: {
    flag: "--s3-region <region>",
    env: "BACKUP_S3_REGION",
    default: "us-east-1",
    help: "the bucket's region",
  },
  s3PathStyle: {
    flag: "--s3-path-style",
    kind: "switch",
    env: "BACKUP_S3_PATH_STYLE",
    default: "off",
    help: "path-style requests: https://host/bucket/key",
  },
  s3AccessKey: {
    name: "s3 access key",
    env: "AWS_ACCESS_KEY_ID",
    secret: true,
    help: "the bucket's access key id",
  },
  s3SecretKey: {
    name: "s3 secret key",
    env: "AWS_SECRET_ACCESS_KEY",
    secret: true,
    help: "the bucket's secret key",
  },
  s3SessionToken: {
    name: "s3 session token",
    env: "AWS_SESSION_TOKEN",
    secret: true,
    help: "a temporary session's token",
  },
  ageRecipient: {
    flag: "--age-recipient <key>",
    kind: "list",
    env: "BACKUP_AGE_RECIPIENTS",
    help: "encrypt archives to this age public key; repeatable",
  },
  ageIdentity: {
    flag: "--age-identity <file>",
    env: "BACKUP_AGE_IDENTITY_FILE",
    help: "age identity file for encrypted archives",
  },
} as const satisfies Record<string, SettingSpec>;

/** The name of a setting: commander's name for its flag. */
export type SettingKey = keyof typeof SETTINGS;

/** The spec of a setting, widened for reading. */
export function specOf(key: SettingKey): SettingSpec {
  return SETTINGS[key];
}

/**
 * The settings' keys, in the catalog's order.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(settingKeys().slice(0, 2), ["source", "dest"]);
 * ```
 */
export function settingKeys(): SettingKey[] {
  return Object.keys(SETTINGS) as SettingKey[];
}

/**
 * The flag's own name, without its value's placeholder.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(flagName("keepLast"), "--keep-last");
 * assertEquals(flagName("postgresPassword"), undefined);
 * ```
 */
export function flagName(key: SettingKey): string | undefined {
  return specOf(key).flag?.split(" ")[0];
}

/**
 * The name `config` shows for a setting.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(displayName("s3Url"), "s3-url");
 * assertEquals(displayName("s3SecretKey"), "s3 secret key");
 * ```
 */
export function displayName(key: SettingKey): string {
  const spec = specOf(key);
  return spec.name ?? (flagName(key) ?? key).replace(/^--/, "");
}

/**
 * A setting's help line: what it does, its variable and its default.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(helpLine("compression"), "gzip or zstd (BACKUP_COMPRESSION, default gzip)");
 * ```
 */
export function helpLine(key: SettingKey): string {
  const spec = specOf(key);
  const where = [spec.env, spec.default === undefined ? undefined : `default ${spec.default}`]
    .filter((part) => part !== undefined);
  return where.length > 0 ? `${spec.help} (${where.join(", ")})` : spec.help;
}

/** Flag values as the command line gave them, by setting. */
export type Flags = { [K in SettingKey]?: FlagValue<(typeof SETTINGS)[K]> };

/** What a flag of this spec holds once parsed: a list, a switch, or one value. */
export type FlagValue<S> = S extends { kind: "list" } ? string[]
  : S extends { kind: "switch" } ? boolean
  : string;

/** The environment, as a plain map (tests pass their own). */
export type Env = Record<string, string | undefined>;
