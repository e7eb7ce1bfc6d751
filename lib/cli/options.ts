// The options the commands take, by name, each with its help text and the variable it falls
// back on (README: Settings). Each command lists the names it uses, so its --help shows those.

import { type Command, Option } from "commander";

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Adds options to a command. */
type Adds = (cmd: Command) => Command;

/** Every option a command may take, grouped as commands take them. */
const OPTIONS = {
  source: (cmd) => cmd.option("--source <dir>", "folder to back up (BACKUP_SOURCE, default /data)"),
  dest: (cmd) => cmd.option("--dest <dir>", "where archives go (BACKUP_DEST, default /backup)"),
  // The tasks' `./dbdata` and `./backup`, which the environment still beats.
  taskDefaults: (cmd) =>
    cmd.addOption(new Option("--default-source <dir>").hideHelp())
      .addOption(new Option("--default-dest <dir>").hideHelp()),
  tz: (cmd) =>
    cmd.option(
      "--tz <zone>",
      "IANA zone for archive names and the schedule (TZ, default the system's)",
    ),
  logFormat: (cmd) =>
    cmd.option("--log-format <format>", "text or json (BACKUP_LOG_FORMAT, default text)"),
  exclude: (cmd) =>
    cmd.option(
      "--exclude <glob>",
      "leave out paths relative to the source; repeatable (BACKUP_EXCLUDE)",
      collect,
    ),
  keep: (cmd) =>
    cmd
      .option("--keep-last <n>", "retention: keep the N newest (BACKUP_KEEP_LAST)")
      .option("--keep-daily <n>", "retention: newest of each of N days (BACKUP_KEEP_DAILY)")
      .option("--keep-weekly <n>", "retention: newest of each of N ISO weeks (BACKUP_KEEP_WEEKLY)")
      .option("--keep-monthly <n>", "retention: newest of each of N months (BACKUP_KEEP_MONTHLY)"),
  compression: (cmd) =>
    cmd.option("--compression <kind>", "gzip or zstd (BACKUP_COMPRESSION, default gzip)"),
  notify: (cmd) =>
    cmd
      .option(
        "--notify <url>",
        "send each run's result: smtp://HOST:PORT/?to=ADDR, http(s)://, slack+https://, ntfy://HOST/TOPIC; repeatable (BACKUP_NOTIFY_URLS)",
        collect,
      )
      .option(
        "--notify-on <when>",
        "failure or always (BACKUP_NOTIFY_ON, default failure)",
      ),
  metricsFile: (cmd) =>
    cmd.option(
      "--metrics-file <path>",
      "write Prometheus metrics there after every run, as node_exporter's textfile collector reads them (BACKUP_METRICS_FILE)",
    ),
  metricsListen: (cmd) =>
    cmd.option(
      "--metrics-listen <addr>",
      "serve Prometheus metrics on HOST:PORT/metrics (BACKUP_METRICS_LISTEN; off by default)",
    ),
  ping: (cmd) =>
    cmd.option(
      "--ping-url <url>",
      "healthchecks-style pings: URL/start, URL, URL/fail (BACKUP_PING_URL)",
    ),
  hooks: (cmd) =>
    cmd
      .option(
        "--pre-hook <command>",
        "run before archiving; failing fails the run (BACKUP_PRE_HOOK)",
      )
      .option(
        "--post-hook <command>",
        "always run after, with BACKUP_STATUS and BACKUP_ARCHIVE (BACKUP_POST_HOOK)",
      )
      .option(
        "--hook-timeout <seconds>",
        "how long a hook may run (BACKUP_HOOK_TIMEOUT, default 900)",
      ),
  recipients: (cmd) =>
    cmd.option(
      "--age-recipient <key>",
      "encrypt archives to this age public key; repeatable (BACKUP_AGE_RECIPIENTS)",
      collect,
    ),
  s3: (cmd) =>
    cmd
      .option("--s3-url <url>", "off-site copies go to s3://BUCKET/PREFIX (BACKUP_S3_URL)")
      .option(
        "--s3-endpoint <url>",
        "MinIO, Ceph RGW, B2, R2, ... (BACKUP_S3_ENDPOINT, default AWS)",
      )
      .option("--s3-region <region>", "the bucket's region (BACKUP_S3_REGION, default us-east-1)")
      .option(
        "--s3-path-style",
        "path-style requests: https://host/bucket/key (BACKUP_S3_PATH_STYLE)",
      ),
  identity: (cmd) =>
    cmd.option(
      "--age-identity <file>",
      "age identity file for encrypted archives (BACKUP_AGE_IDENTITY_FILE)",
    ),
  postgres: (cmd) =>
    cmd.option(
      "--postgres <url>",
      "consistent online backup through PostgreSQL's backup API: postgres://USER@HOST:PORT/DB; password from PGPASSWORD or PGPASSWORD_FILE (BACKUP_POSTGRES_URL)",
    ),
  schedule: (cmd) =>
    cmd.option(
      "--schedule <cron>",
      "5 fields, or 6 with seconds first (BACKUP_SCHEDULE, default 0 1 * * *)",
    ),
  daemonStart: (cmd) =>
    cmd
      .option(
        "--catch-up",
        "at start, run once if a slot passed since the newest archive (BACKUP_CATCH_UP, default on)",
      )
      .option("--no-catch-up", "do not catch up at start")
      .option("--run-on-start", "back up once at start (BACKUP_RUN_ON_START)"),
} satisfies Record<string, Adds>;

/** The name of a group of options. */
export type OptionName = keyof typeof OPTIONS;

/** What a backup takes, for `now` and `run`. */
export const BACKUP_OPTIONS: readonly OptionName[] = [
  "source",
  "dest",
  "taskDefaults",
  "tz",
  "logFormat",
  "exclude",
  "keep",
  "compression",
  "ping",
  "notify",
  "metricsFile",
  "hooks",
  "recipients",
  "s3",
  "postgres",
];

/**
 * Adds the named options to a command, in that order.
 *
 * @example
 * ```ts ignore
 * withOptions(program.command("list"), ["dest", "tz", "logFormat", "s3"]);
 * ```
 */
export function withOptions(cmd: Command, names: readonly OptionName[]): Command {
  return names.reduce((built, name) => OPTIONS[name](built), cmd);
}
