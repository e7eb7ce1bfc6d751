// The options the commands take, as commander builders, with their help text and the
// variable each falls back on (README: Settings).

import { type Command, Option } from "commander";

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function pathOptions(cmd: Command): Command {
  return cmd
    .option("--source <dir>", "folder to back up (BACKUP_SOURCE, default /data)")
    .option("--dest <dir>", "where archives go (BACKUP_DEST, default /backup)")
    .addOption(new Option("--default-source <dir>").hideHelp())
    .addOption(new Option("--default-dest <dir>").hideHelp())
    .option(
      "--tz <zone>",
      "IANA zone for archive names and the schedule (TZ, default the system's)",
    )
    .option("--log-format <format>", "text or json (BACKUP_LOG_FORMAT, default text)");
}

export function archiveOptions(cmd: Command): Command {
  return cmd
    .option(
      "--exclude <glob>",
      "leave out paths relative to the source; repeatable (BACKUP_EXCLUDE)",
      collect,
    )
    .option("--keep-last <n>", "retention: keep the N newest (BACKUP_KEEP_LAST)")
    .option("--keep-daily <n>", "retention: newest of each of N days (BACKUP_KEEP_DAILY)")
    .option("--keep-weekly <n>", "retention: newest of each of N ISO weeks (BACKUP_KEEP_WEEKLY)")
    .option("--keep-monthly <n>", "retention: newest of each of N months (BACKUP_KEEP_MONTHLY)")
    .option("--compression <kind>", "gzip (BACKUP_COMPRESSION, default gzip)")
    .option(
      "--ping-url <url>",
      "healthchecks-style pings: URL/start, URL, URL/fail (BACKUP_PING_URL)",
    )
    .option("--pre-hook <command>", "run before archiving; failing fails the run (BACKUP_PRE_HOOK)")
    .option(
      "--post-hook <command>",
      "always run after, with BACKUP_STATUS and BACKUP_ARCHIVE (BACKUP_POST_HOOK)",
    )
    .option(
      "--hook-timeout <seconds>",
      "how long a hook may run (BACKUP_HOOK_TIMEOUT, default 900)",
    )
    .option(
      "--age-recipient <key>",
      "encrypt archives to this age public key; repeatable (BACKUP_AGE_RECIPIENTS)",
      collect,
    );
}

export function s3Options(cmd: Command): Command {
  return cmd
    .option("--s3-url <url>", "off-site copies go to s3://BUCKET/PREFIX (BACKUP_S3_URL)")
    .option(
      "--s3-endpoint <url>",
      "MinIO, Ceph RGW, B2, R2, ... (BACKUP_S3_ENDPOINT, default AWS)",
    )
    .option("--s3-region <region>", "the bucket's region (BACKUP_S3_REGION, default us-east-1)")
    .option(
      "--s3-path-style",
      "path-style requests: https://host/bucket/key (BACKUP_S3_PATH_STYLE)",
    );
}

export function postgresOption(cmd: Command): Command {
  return cmd.option(
    "--postgres <url>",
    "consistent online backup through PostgreSQL's backup API: postgres://USER@HOST:PORT/DB; password from PGPASSWORD or PGPASSWORD_FILE (BACKUP_POSTGRES_URL)",
  );
}

export function identityOption(cmd: Command): Command {
  return cmd.option(
    "--age-identity <file>",
    "age identity file for encrypted archives (BACKUP_AGE_IDENTITY_FILE)",
  );
}

export function scheduleOptions(cmd: Command): Command {
  return cmd.option(
    "--schedule <cron>",
    "5 fields, or 6 with seconds first (BACKUP_SCHEDULE, default 0 1 * * *)",
  );
}
