// Settings from flags, then the environment, then defaults, checked without touching the disk.
// Every bad value becomes a ConfigError naming the flag or variable that carried it.

import { ConfigError, describeError } from "../base/errors.ts";
import { type Compression, EXTENSIONS } from "../store/names.ts";
import type { LogFormat } from "../base/log.ts";
import { DEFAULT_DOCKER_HOST, parseDockerHost } from "./docker_host.ts";
import type { KeepPolicy } from "../store/retention.ts";
import type { S3Connection, S3Credentials, S3Target } from "../offsite/s3_url.ts";
import { splitWords } from "../base/shell_words.ts";
import { globProblem } from "../base/glob.ts";
import type { Secret } from "../base/secret.ts";
import {
  bool,
  checkSchedule,
  checkTimeZone,
  folderSetting,
  maskPassword,
  pick,
  secret,
  wholeNumber,
} from "./values.ts";
import { offsiteSettings } from "./offsite_settings.ts";
import { DEFAULTS, type Env, type Flags } from "./flags.ts";

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
  /** The pre-hook's words, if any. */
  preHook?: string[];
  /** The post-hook's words, if any. */
  postHook?: string[];
  /** How long a hook may run. */
  hookTimeoutMs: number;
  /** The Docker engine for the container labels; none when DOCKER_HOST is "none". */
  docker?: { host: string; explicit: boolean };
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
  const source = folderSetting(flags.source, "--source", env, "BACKUP_SOURCE") ??
    flags.defaultSource ?? DEFAULTS.source;
  const dest = folderSetting(flags.dest, "--dest", env, "BACKUP_DEST") ?? flags.defaultDest ??
    DEFAULTS.dest;

  const tzPicked = pick(flags.tz, "--tz", env, "TZ");
  const tz = tzPicked ? checkTimeZone(tzPicked.value, tzPicked.from) : system.timeZone;

  const schedulePicked = pick(flags.schedule, "--schedule", env, "BACKUP_SCHEDULE");
  const schedule = checkSchedule(
    schedulePicked?.value ?? DEFAULTS.schedule,
    schedulePicked?.from ?? "--schedule",
    tz,
  );

  const excludes = flags.exclude && flags.exclude.length > 0
    ? flags.exclude
    : (env.BACKUP_EXCLUDE ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "");
  for (const glob of excludes) {
    const from = flags.exclude?.length ? "--exclude" : "BACKUP_EXCLUDE";
    if (glob.startsWith("/")) {
      throw new ConfigError(from, glob, "expected a path relative to the source");
    }
    const problem = globProblem(glob);
    if (problem) throw new ConfigError(from, glob, problem);
  }

  const keep: KeepPolicy = {};
  const rules = [
    ["last", flags.keepLast, "--keep-last", "BACKUP_KEEP_LAST"],
    ["daily", flags.keepDaily, "--keep-daily", "BACKUP_KEEP_DAILY"],
    ["weekly", flags.keepWeekly, "--keep-weekly", "BACKUP_KEEP_WEEKLY"],
    ["monthly", flags.keepMonthly, "--keep-monthly", "BACKUP_KEEP_MONTHLY"],
  ] as const;
  for (const [rule, flag, flagName, envName] of rules) {
    const n = wholeNumber(pick(flag, flagName, env, envName));
    if (n !== undefined) keep[rule] = n;
  }

  const compressionPicked = pick(flags.compression, "--compression", env, "BACKUP_COMPRESSION");
  const compression = compressionPicked?.value ?? "gzip";
  if (!Object.hasOwn(EXTENSIONS, compression)) {
    throw new ConfigError(
      compressionPicked?.from ?? "--compression",
      compression,
      "expected gzip or zstd",
    );
  }

  const logPicked = pick(flags.logFormat, "--log-format", env, "BACKUP_LOG_FORMAT");
  const logFormat = logPicked?.value ?? "text";
  if (logFormat !== "text" && logFormat !== "json") {
    throw new ConfigError(logPicked?.from ?? "--log-format", logFormat, "expected text or json");
  }

  const pingPicked = pick(flags.pingUrl, "--ping-url", env, "BACKUP_PING_URL");
  if (pingPicked && !/^https?:$/.test(URL.parse(pingPicked.value)?.protocol ?? "")) {
    throw new ConfigError(
      pingPicked.from,
      pingPicked.value,
      "expected an http:// or https:// address",
    );
  }

  const hooks: { preHook?: string[]; postHook?: string[] } = {};
  for (
    const [key, flag, flagName, envName] of [
      ["preHook", flags.preHook, "--pre-hook", "BACKUP_PRE_HOOK"],
      ["postHook", flags.postHook, "--post-hook", "BACKUP_POST_HOOK"],
    ] as const
  ) {
    const picked = pick(flag, flagName, env, envName);
    if (!picked) continue;
    let words: string[];
    try {
      words = splitWords(picked.value);
    } catch (err) {
      throw new ConfigError(
        picked.from,
        picked.value,
        describeError(err).replace(/^Cannot split the command: /, ""),
        {
          cause: err,
        },
      );
    }
    if (words.length === 0) throw new ConfigError(picked.from, picked.value, "expected a command");
    hooks[key] = words;
  }
  const timeoutPicked = pick(flags.hookTimeout, "--hook-timeout", env, "BACKUP_HOOK_TIMEOUT");
  const hookTimeoutSeconds = wholeNumber(timeoutPicked) ?? DEFAULTS.hookTimeoutSeconds;
  if (hookTimeoutSeconds === 0) {
    throw new ConfigError(
      timeoutPicked?.from ?? "--hook-timeout",
      "0",
      "expected at least 1 second",
    );
  }
  const dockerHost = env.DOCKER_HOST;
  const docker = dockerHost === "none" ? undefined : {
    host: dockerHost || DEFAULT_DOCKER_HOST,
    explicit: dockerHost !== undefined && dockerHost !== "",
  };
  if (docker) {
    try {
      parseDockerHost(docker.host);
    } catch (err) {
      throw new ConfigError(
        "DOCKER_HOST",
        docker.host,
        "expected unix:///path, tcp://host:port or none",
        { cause: err },
      );
    }
  }

  return {
    ...offsiteSettings(flags, env),
    ...postgresSettings(flags, env),
    ...(pingPicked ? { pingUrl: pingPicked.value } : {}),
    ...hooks,
    hookTimeoutMs: hookTimeoutSeconds * 1000,
    ...(docker ? { docker } : {}),
    source,
    dest,
    schedule,
    tz,
    catchUp: bool(flags.catchUp, env, "BACKUP_CATCH_UP", true),
    runOnStart: bool(flags.runOnStart, env, "BACKUP_RUN_ON_START", false),
    excludes,
    keep,
    compression: compression as Compression,
    logFormat,
  };
}
