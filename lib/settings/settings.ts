// Settings from flags, then the environment, then defaults, checked without touching the disk.
// Every bad value becomes a ConfigError naming the flag or variable that carried it.

import { Cron } from "croner";
import { ConfigError } from "../base/errors.ts";
import { type Compression, EXTENSIONS } from "../store/names.ts";
import type { LogFormat } from "../base/log.ts";
import { DEFAULT_DOCKER_HOST, parseDockerHost } from "./docker_host.ts";
import type { KeepPolicy } from "../store/retention.ts";
import {
  parseS3Url,
  type S3Connection,
  type S3Credentials,
  type S3Target,
} from "../offsite/s3_url.ts";
import { splitWords } from "../base/shell_words.ts";
import { globProblem } from "../base/glob.ts";
import { checkRecipient } from "../codec/encryption.ts";
import type { Secret } from "../base/secret.ts";

/** Flag values as the command line gave them (commander's option names). */
export interface Flags {
  source?: string;
  dest?: string;
  defaultSource?: string;
  defaultDest?: string;
  schedule?: string;
  tz?: string;
  catchUp?: boolean;
  runOnStart?: boolean;
  exclude?: string[];
  keepLast?: string;
  keepDaily?: string;
  keepWeekly?: string;
  keepMonthly?: string;
  compression?: string;
  logFormat?: string;
  pingUrl?: string;
  preHook?: string;
  postHook?: string;
  hookTimeout?: string;
  s3Url?: string;
  s3Endpoint?: string;
  s3Region?: string;
  s3PathStyle?: boolean;
  ageRecipient?: string[];
  ageIdentity?: string;
  postgres?: string;
  /** Command-specific flags (list/verify --remote), verify --all, restore --to, prune --dry-run). */
  remote?: boolean;
  all?: boolean;
  to?: string;
  dryRun?: boolean;
}

/** The environment, as a plain map (tests pass their own). */
export type Env = Record<string, string | undefined>;

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

/** The defaults of the settings table (README: Settings). */
export const DEFAULTS = {
  source: "/data",
  dest: "/backup",
  schedule: "0 1 * * *",
  hookTimeoutSeconds: 900,
  s3Region: "us-east-1",
} as const;

interface Picked {
  value: string;
  /** The flag or variable it came from, for error messages. */
  from: string;
}

function pick(
  flag: string | undefined,
  flagName: string,
  env: Env,
  envName: string,
): Picked | undefined {
  if (flag !== undefined) return { value: flag, from: flagName };
  const fromEnv = env[envName];
  if (fromEnv !== undefined && fromEnv !== "") return { value: fromEnv, from: envName };
  return undefined;
}

/** A folder setting; an empty one is refused rather than read as the working folder. */
function folderSetting(
  flag: string | undefined,
  flagName: string,
  env: Env,
  envName: string,
): string | undefined {
  if (flag === "" || (flag === undefined && env[envName] === "")) {
    throw new ConfigError(flag === "" ? flagName : envName, "", "expected a folder");
  }
  return pick(flag, flagName, env, envName)?.value;
}

const TRUE = new Set(["1", "true", "yes", "on"]);
const FALSE = new Set(["0", "false", "no", "off"]);

function bool(flag: boolean | undefined, env: Env, envName: string, fallback: boolean): boolean {
  if (flag !== undefined) return flag;
  const raw = env[envName];
  if (raw === undefined || raw === "") return fallback;
  const lower = raw.trim().toLowerCase();
  if (TRUE.has(lower)) return true;
  if (FALSE.has(lower)) return false;
  throw new ConfigError(envName, raw, "expected true or false");
}

function wholeNumber(picked: Picked | undefined): number | undefined {
  if (!picked) return undefined;
  const n = Number(picked.value);
  if (!/^\s*\d+\s*$/.test(picked.value) || !Number.isSafeInteger(n)) {
    throw new ConfigError(picked.from, picked.value, "expected a whole number");
  }
  return n;
}

/**
 * Checks an IANA zone name; returns it without the leading `:` that TZ may carry.
 *
 * @example
 * ```ts
 * checkTimeZone("Europe/Berlin", "--tz"); // "Europe/Berlin"
 * ```
 */
export function checkTimeZone(zone: string, from: string): string {
  const name = zone.startsWith(":") ? zone.slice(1) : zone;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: name });
  } catch (err) {
    throw new ConfigError(from, zone, "unknown time zone", { cause: err });
  }
  return name;
}

/**
 * Checks a cron expression of 5 fields, or 6 with seconds first.
 *
 * @example
 * ```ts
 * checkSchedule("0 1 * * *", "--schedule", "UTC"); // "0 1 * * *"
 * ```
 */
export function checkSchedule(pattern: string, from: string, timeZone: string): string {
  const fields = pattern.trim().split(/\s+/);
  if (fields.length !== 5 && fields.length !== 6) {
    throw new ConfigError(from, pattern, `expected 5 or 6 cron fields, got ${fields.length}`);
  }
  try {
    new Cron(pattern, { timezone: timeZone, paused: true });
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new ConfigError(from, pattern, `not a valid cron expression (${detail})`, { cause: err });
  }
  return fields.join(" ");
}

function secret(env: Env, name: string): Secret | undefined {
  const value = env[name];
  const file = env[`${name}_FILE`];
  if (value && file) {
    throw new ConfigError(`${name}_FILE`, file, `give ${name} or ${name}_FILE, not both`);
  }
  if (value) return { value };
  if (file) return { file, from: `${name}_FILE` };
  return undefined;
}

function s3Credentials(env: Env): S3Credentials | undefined {
  const accessKeyId = secret(env, "AWS_ACCESS_KEY_ID");
  const secretAccessKey = secret(env, "AWS_SECRET_ACCESS_KEY");
  const sessionToken = secret(env, "AWS_SESSION_TOKEN");
  if (!accessKeyId && !secretAccessKey) return undefined;
  if (!accessKeyId || !secretAccessKey) {
    const missing = accessKeyId ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID";
    throw new ConfigError(missing, "", "the access key id and the secret key go together");
  }
  return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
}

function offsiteSettings(flags: Flags, env: Env) {
  const urlPicked = pick(flags.s3Url, "--s3-url", env, "BACKUP_S3_URL");
  const endpointPicked = pick(flags.s3Endpoint, "--s3-endpoint", env, "BACKUP_S3_ENDPOINT");
  if (
    endpointPicked && !/^https?:$/.test(URL.parse(endpointPicked.value)?.protocol ?? "")
  ) {
    throw new ConfigError(
      endpointPicked.from,
      endpointPicked.value,
      "expected an http:// or https:// address",
    );
  }
  const region = pick(flags.s3Region, "--s3-region", env, "BACKUP_S3_REGION")?.value ??
    DEFAULTS.s3Region;
  const recipientsFromFlags = flags.ageRecipient !== undefined && flags.ageRecipient.length > 0;
  const recipients = recipientsFromFlags
    ? flags.ageRecipient ?? []
    : (env.BACKUP_AGE_RECIPIENTS ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "");
  for (const recipient of recipients) {
    try {
      checkRecipient(recipient);
    } catch (err) {
      throw new ConfigError(
        recipientsFromFlags ? "--age-recipient" : "BACKUP_AGE_RECIPIENTS",
        recipient,
        (err as Error).message,
        { cause: err },
      );
    }
  }
  const identity = pick(flags.ageIdentity, "--age-identity", env, "BACKUP_AGE_IDENTITY_FILE");
  const credentials = s3Credentials(env);
  return {
    ...(urlPicked ? { s3: parseS3Url(urlPicked.value, urlPicked.from) } : {}),
    s3Connection: {
      ...(endpointPicked ? { endpoint: endpointPicked.value } : {}),
      region,
      pathStyle: bool(flags.s3PathStyle, env, "BACKUP_S3_PATH_STYLE", false),
    },
    ...(credentials ? { s3Credentials: credentials } : {}),
    ageRecipients: recipients,
    ...(identity ? { ageIdentityFile: identity.value } : {}),
  };
}

/**
 * A connection URL with its password, if any, masked: for messages.
 *
 * @example
 * ```ts
 * maskPassword("postgres://app:s3cret@db/shop"); // "postgres://app:***@db/shop"
 * ```
 */
export function maskPassword(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/:@]*:)[^@/]*@/i, "$1***@");
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
 * ```ts
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
        (err as Error).message.replace(/^Cannot split the command: /, ""),
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
