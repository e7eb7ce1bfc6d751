// Settings from flags, then the environment, then defaults, checked without touching the disk.
// Every bad value becomes a ConfigError naming the flag or variable that carried it.

import { ConfigError } from "../base/errors.ts";
import type { Compression } from "../store/names.ts";
import type { LogFormat } from "../base/log.ts";
import type { KeepPolicy } from "../store/retention.ts";
import type { S3Connection, S3Credentials, S3Target } from "../offsite/s3_url.ts";
import type { Secret } from "../base/secret.ts";
import { maskPassword, pick, secret } from "./values.ts";
import { offsiteSettings } from "./offsite_settings.ts";
import {
  archiveSettings,
  type DockerSettings,
  dockerSettings,
  folderSettings,
  hookSettings,
  noticeSettings,
  scheduleSettings,
} from "./groups.ts";
import type { Env, Flags } from "./flags.ts";
import { type NotifyOn, notifySettings, type NotifyTarget } from "./notify_settings.ts";
import { type ListenAddress, metricsSettings } from "./metrics_settings.ts";

/** The server to back up through, from `--postgres` / `BACKUP_POSTGRES_URL`. */
export interface PostgresTarget {
  /** `postgres://USER@HOST:PORT/DATABASE`. */
  url: string;
  /** The password, when not in the URL: `PGPASSWORD` or `PGPASSWORD_FILE`. */
  password?: Secret;
}

/** Everything a command needs to know, resolved and checked. */
export interface Settings {
  /** Folder to back up. */
  source: string;
  /** Folder the archives go to. */
  dest: string;
  /** Cron expression, 5 or 6 fields. */
  schedule: string;
  /** IANA zone for the schedule and the archive names. */
  tz: string;
  /** Run once at start when a slot passed since the newest archive. */
  catchUp: boolean;
  /** Run once at start. */
  runOnStart: boolean;
  /** Globs of paths relative to the source to leave out. */
  excludes: string[];
  /** Retention rules. */
  keep: KeepPolicy;
  /** Archive compression. */
  compression: Compression;
  /** Log line format. */
  logFormat: LogFormat;
  /** healthchecks-style ping address, if any. */
  pingUrl?: string;
  /** Where each run's result is sent. */
  notify: NotifyTarget[];
  /** Whether to send after every run or only after a failed one. */
  notifyOn: NotifyOn;
  /** Where the daemon serves /metrics, if anywhere. */
  metricsListen?: ListenAddress;
  /** The node_exporter textfile written after every run, if any. */
  metricsFile?: string;
  /** The pre-hook's words, if any. */
  preHook?: string[];
  /** The post-hook's words, if any. */
  postHook?: string[];
  /** How long a hook may run. */
  hookTimeoutMs: number;
  /** The Docker engine for the container labels; none when BACKUP_QUIESCE is off. */
  docker?: DockerSettings;
  /** Where to upload each archive, if anywhere. */
  s3?: S3Target;
  /** How to reach S3. */
  s3Connection: S3Connection;
  /** Credentials from the environment, if given there. */
  s3Credentials?: S3Credentials;
  /** age public keys: archives are encrypted to all of them when any is given. */
  ageRecipients: string[];
  /** The age identity file for verify and restore. */
  ageIdentityFile?: string;
  /** The PostgreSQL server whose backup API keeps the copy consistent, if any. */
  postgres?: PostgresTarget;
}

/** Facts about the system that defaults depend on. */
export interface System {
  /** The zone the system runs in. */
  timeZone: string;
}

function postgresSettings(flags: Flags, env: Env): { postgres?: PostgresTarget } {
  const picked = pick(flags.postgres, "--postgres", env, "BACKUP_POSTGRES_URL");
  if (!picked) return {};
  const url = URL.parse(picked.value);
  if (!url || !/^postgres(ql)?:$/.test(url.protocol) || url.hostname === "") {
    throw new ConfigError(
      picked.from,
      maskPassword(picked.value),
      "expected postgres://USER@HOST:PORT/DATABASE",
    );
  }
  const password = secret(env, "PGPASSWORD");
  return { postgres: { url: picked.value, ...(password ? { password } : {}) } };
}

/**
 * Resolves every setting: a flag wins over the environment, which wins over the default.
 *
 * @example
 * ```ts ignore
 * const settings = resolveSettings({ dest: "/tmp/b" }, { BACKUP_SOURCE: "/srv" }, { timeZone: "UTC" });
 * settings.source; // "/srv"
 * ```
 */
export function resolveSettings(flags: Flags, env: Env, system: System): Settings {
  return {
    ...folderSettings(flags, env),
    ...scheduleSettings(flags, env, system.timeZone),
    ...archiveSettings(flags, env),
    ...hookSettings(flags, env),
    ...noticeSettings(flags, env),
    ...notifySettings(flags, env),
    ...metricsSettings(flags, env),
    ...dockerSettings(env),
    ...offsiteSettings(flags, env),
    ...postgresSettings(flags, env),
  };
}
