// `backupd config`: every effective setting and where it came from (a flag, the
// environment, a file named by a `_FILE` variable, or the default), secrets masked.

import { EXIT } from "../base/errors.ts";
import type { Env, Flags } from "../settings/flags.ts";
import type { Settings } from "../settings/settings.ts";
import { maskPassword } from "../settings/values.ts";

/** One setting as `config` shows it. */
interface Row {
  setting: string;
  value: string;
  from: string;
}

/** How to find one setting: its flag, its variables, and its value once resolved. */
interface Spec {
  setting: string;
  flag?: keyof Flags;
  flagName?: string;
  env: string[];
  value: (s: Settings) => string | undefined;
  /** A secret: shown as *** (set) or nothing. */
  secret?: boolean;
}

const joined = (values: readonly string[]) => values.length > 0 ? values.join(",") : undefined;

const SPECS: Spec[] = [
  {
    setting: "source",
    flag: "source",
    flagName: "--source",
    env: ["BACKUP_SOURCE"],
    value: (s) => s.source,
  },
  { setting: "dest", flag: "dest", flagName: "--dest", env: ["BACKUP_DEST"], value: (s) => s.dest },
  {
    setting: "schedule",
    flag: "schedule",
    flagName: "--schedule",
    env: ["BACKUP_SCHEDULE"],
    value: (s) => s.schedule,
  },
  { setting: "tz", flag: "tz", flagName: "--tz", env: ["TZ"], value: (s) => s.tz },
  {
    setting: "catch-up",
    flag: "catchUp",
    flagName: "--catch-up",
    env: ["BACKUP_CATCH_UP"],
    value: (s) => String(s.catchUp),
  },
  {
    setting: "run-on-start",
    flag: "runOnStart",
    flagName: "--run-on-start",
    env: ["BACKUP_RUN_ON_START"],
    value: (s) => String(s.runOnStart),
  },
  {
    setting: "exclude",
    flag: "exclude",
    flagName: "--exclude",
    env: ["BACKUP_EXCLUDE"],
    value: (s) => joined(s.excludes),
  },
  {
    setting: "keep-last",
    flag: "keepLast",
    flagName: "--keep-last",
    env: ["BACKUP_KEEP_LAST"],
    value: (s) => s.keep.last?.toString(),
  },
  {
    setting: "keep-daily",
    flag: "keepDaily",
    flagName: "--keep-daily",
    env: ["BACKUP_KEEP_DAILY"],
    value: (s) => s.keep.daily?.toString(),
  },
  {
    setting: "keep-weekly",
    flag: "keepWeekly",
    flagName: "--keep-weekly",
    env: ["BACKUP_KEEP_WEEKLY"],
    value: (s) => s.keep.weekly?.toString(),
  },
  {
    setting: "keep-monthly",
    flag: "keepMonthly",
    flagName: "--keep-monthly",
    env: ["BACKUP_KEEP_MONTHLY"],
    value: (s) => s.keep.monthly?.toString(),
  },
  {
    setting: "compression",
    flag: "compression",
    flagName: "--compression",
    env: ["BACKUP_COMPRESSION"],
    value: (s) => s.compression,
  },
  {
    setting: "ping-url",
    flag: "pingUrl",
    flagName: "--ping-url",
    env: ["BACKUP_PING_URL"],
    value: (s) => s.pingUrl && maskPassword(s.pingUrl),
  },
  {
    setting: "log-format",
    flag: "logFormat",
    flagName: "--log-format",
    env: ["BACKUP_LOG_FORMAT"],
    value: (s) => s.logFormat,
  },
  {
    setting: "pre-hook",
    flag: "preHook",
    flagName: "--pre-hook",
    env: ["BACKUP_PRE_HOOK"],
    value: (s) => s.preHook?.join(" "),
  },
  {
    setting: "post-hook",
    flag: "postHook",
    flagName: "--post-hook",
    env: ["BACKUP_POST_HOOK"],
    value: (s) => s.postHook?.join(" "),
  },
  {
    setting: "hook-timeout",
    flag: "hookTimeout",
    flagName: "--hook-timeout",
    env: ["BACKUP_HOOK_TIMEOUT"],
    value: (s) => String(s.hookTimeoutMs / 1000),
  },
  {
    setting: "postgres",
    flag: "postgres",
    flagName: "--postgres",
    env: ["BACKUP_POSTGRES_URL"],
    value: (s) => s.postgres && maskPassword(s.postgres.url),
  },
  {
    setting: "postgres password",
    env: ["PGPASSWORD"],
    value: (s) => s.postgres?.password ? "***" : undefined,
    secret: true,
  },
  { setting: "quiesce", env: ["BACKUP_QUIESCE"], value: (s) => s.docker ? "on" : "off" },
  { setting: "docker", env: ["DOCKER_HOST"], value: (s) => s.docker?.host },
  {
    setting: "quiesce-group",
    env: ["BACKUP_QUIESCE_GROUP"],
    value: (s) => s.docker?.group ?? (s.docker ? "this container's compose project" : undefined),
  },
  {
    setting: "s3-url",
    flag: "s3Url",
    flagName: "--s3-url",
    env: ["BACKUP_S3_URL"],
    value: (s) => s.s3 && `s3://${s.s3.bucket}/${s.s3.prefix}`,
  },
  {
    setting: "s3-endpoint",
    flag: "s3Endpoint",
    flagName: "--s3-endpoint",
    env: ["BACKUP_S3_ENDPOINT"],
    value: (s) => s.s3Connection.endpoint,
  },
  {
    setting: "s3-region",
    flag: "s3Region",
    flagName: "--s3-region",
    env: ["BACKUP_S3_REGION"],
    value: (s) => s.s3Connection.region,
  },
  {
    setting: "s3-path-style",
    flag: "s3PathStyle",
    flagName: "--s3-path-style",
    env: ["BACKUP_S3_PATH_STYLE"],
    value: (s) => String(s.s3Connection.pathStyle),
  },
  {
    setting: "s3 access key",
    env: ["AWS_ACCESS_KEY_ID"],
    value: (s) => s.s3Credentials ? "***" : undefined,
    secret: true,
  },
  {
    setting: "s3 secret key",
    env: ["AWS_SECRET_ACCESS_KEY"],
    value: (s) => s.s3Credentials ? "***" : undefined,
    secret: true,
  },
  {
    setting: "age-recipient",
    flag: "ageRecipient",
    flagName: "--age-recipient",
    env: ["BACKUP_AGE_RECIPIENTS"],
    value: (s) => joined(s.ageRecipients),
  },
  {
    setting: "age-identity",
    flag: "ageIdentity",
    flagName: "--age-identity",
    env: ["BACKUP_AGE_IDENTITY_FILE"],
    value: (s) => s.ageIdentityFile,
  },
];

/** Where a setting's value came from. */
function origin(spec: Spec, flags: Flags, env: Env): string {
  const flag = spec.flag === undefined ? undefined : flags[spec.flag];
  if (flag !== undefined && !(Array.isArray(flag) && flag.length === 0)) {
    return `flag ${spec.flagName}`;
  }
  for (const name of spec.env) {
    if (env[name]) return `environment ${name}`;
    if (env[`${name}_FILE`]) return `file ${env[`${name}_FILE`]} (${name}_FILE)`;
  }
  return "default";
}

/**
 * The effective settings with their origins.
 *
 * @example
 * ```ts ignore
 * configRows(settings, { dest: "/b" }, {})[1]; // { setting: "dest", value: "/b", from: "flag --dest" }
 * ```
 */
export function configRows(settings: Settings, flags: Flags, env: Env): Row[] {
  return SPECS.map((spec) => ({
    setting: spec.setting,
    value: spec.value(settings) ?? "",
    from: origin(spec, flags, env),
  }));
}

/**
 * `backupd config [--json]`: every effective setting, its value and where it came from.
 *
 * @example
 * ```ts ignore
 * commandConfig(settings, flags, env, false, io);
 * ```
 */
export function commandConfig(
  settings: Settings,
  flags: Flags,
  env: Env,
  json: boolean,
  io: { stdout: (text: string) => void },
): number {
  const rows = configRows(settings, flags, env);
  if (json) {
    io.stdout(`${JSON.stringify({ settings: rows })}\n`);
    return EXIT.ok;
  }
  const width = (key: "setting" | "value") =>
    Math.max(key.length, ...rows.map((row) => row[key].length));
  const [ws, wv] = [width("setting"), width("value")];
  io.stdout(`${"SETTING".padEnd(ws)}  ${"VALUE".padEnd(wv)}  FROM\n`);
  for (const row of rows) {
    io.stdout(`${row.setting.padEnd(ws)}  ${(row.value || "-").padEnd(wv)}  ${row.from}\n`);
  }
  return EXIT.ok;
}
