// The settings of a run, one small function per group: folders, schedule, what is archived,
// hooks, notices, the Docker engine. Each reads flags and variables through ./values.ts.

import { ConfigError, describeError } from "../base/errors.ts";
import { globProblem } from "../base/glob.ts";
import type { LogFormat } from "../base/log.ts";
import { splitWords } from "../base/shell_words.ts";
import { type Compression, EXTENSIONS } from "../store/names.ts";
import type { KeepPolicy } from "../store/retention.ts";
import { DEFAULT_DOCKER_HOST, parseDockerHost } from "./docker_host.ts";
import { DEFAULTS, type Env, type Flags } from "./flags.ts";
import {
  bool,
  checkSchedule,
  checkTimeZone,
  folderSetting,
  httpUrlSetting,
  listSetting,
  pick,
  wholeNumber,
} from "./values.ts";

/**
 * SOURCE and DEST; a task's `--default-*` comes after the environment.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(folderSettings({ defaultSource: "./dbdata" }, { BACKUP_SOURCE: "/srv" }), {
 *   source: "/srv",
 *   dest: "/backup",
 * });
 * ```
 */
export function folderSettings(flags: Flags, env: Env): { source: string; dest: string } {
  return {
    source: folderSetting(flags.source, "--source", env, "BACKUP_SOURCE") ??
      flags.defaultSource ?? DEFAULTS.source,
    dest: folderSetting(flags.dest, "--dest", env, "BACKUP_DEST") ?? flags.defaultDest ??
      DEFAULTS.dest,
  };
}

/**
 * The zone, the cron schedule in it, and what the daemon does at start.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(scheduleSettings({}, { TZ: "Asia/Tokyo" }, "UTC").tz, "Asia/Tokyo");
 * ```
 */
export function scheduleSettings(flags: Flags, env: Env, systemZone: string) {
  const tzPicked = pick(flags.tz, "--tz", env, "TZ");
  const tz = tzPicked ? checkTimeZone(tzPicked.value, tzPicked.from) : systemZone;
  const schedulePicked = pick(flags.schedule, "--schedule", env, "BACKUP_SCHEDULE");
  return {
    tz,
    schedule: checkSchedule(
      schedulePicked?.value ?? DEFAULTS.schedule,
      schedulePicked?.from ?? "--schedule",
      tz,
    ),
    catchUp: bool(flags.catchUp, env, "BACKUP_CATCH_UP", true),
    runOnStart: bool(flags.runOnStart, env, "BACKUP_RUN_ON_START", false),
  };
}

/**
 * What goes into an archive and how long it is kept: excludes, compression, retention.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(archiveSettings({ keepLast: "3" }, { BACKUP_COMPRESSION: "zstd" }), {
 *   excludes: [],
 *   compression: "zstd",
 *   keep: { last: 3 },
 * });
 * ```
 */
export function archiveSettings(flags: Flags, env: Env) {
  const { values: excludes, from } = listSetting(flags.exclude, "--exclude", env, "BACKUP_EXCLUDE");
  for (const glob of excludes) {
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
  const picked = pick(flags.compression, "--compression", env, "BACKUP_COMPRESSION");
  const compression = picked?.value ?? "gzip";
  if (!Object.hasOwn(EXTENSIONS, compression)) {
    throw new ConfigError(picked?.from ?? "--compression", compression, "expected gzip or zstd");
  }
  return { excludes, compression: compression as Compression, keep };
}

function hookWords(picked: { value: string; from: string }): string[] {
  let words: string[];
  try {
    words = splitWords(picked.value);
  } catch (err) {
    const detail = describeError(err).replace(/^Cannot split the command: /, "");
    throw new ConfigError(picked.from, picked.value, detail, { cause: err });
  }
  if (words.length === 0) throw new ConfigError(picked.from, picked.value, "expected a command");
  return words;
}

/**
 * The pre- and post-hook, split into words, and how long each may run.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(hookSettings({ preHook: "sh -c 'sync'" }, {}), {
 *   preHook: ["sh", "-c", "sync"],
 *   hookTimeoutMs: 900_000,
 * });
 * ```
 */
export function hookSettings(
  flags: Flags,
  env: Env,
): { preHook?: string[]; postHook?: string[]; hookTimeoutMs: number } {
  const pre = pick(flags.preHook, "--pre-hook", env, "BACKUP_PRE_HOOK");
  const post = pick(flags.postHook, "--post-hook", env, "BACKUP_POST_HOOK");
  const timeoutPicked = pick(flags.hookTimeout, "--hook-timeout", env, "BACKUP_HOOK_TIMEOUT");
  const seconds = wholeNumber(timeoutPicked) ?? DEFAULTS.hookTimeoutSeconds;
  if (seconds === 0) {
    throw new ConfigError(
      timeoutPicked?.from ?? "--hook-timeout",
      "0",
      "expected at least 1 second",
    );
  }
  return {
    ...(pre ? { preHook: hookWords(pre) } : {}),
    ...(post ? { postHook: hookWords(post) } : {}),
    hookTimeoutMs: seconds * 1000,
  };
}

/**
 * How a run tells the world: the log format and the ping address.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(noticeSettings({}, { BACKUP_LOG_FORMAT: "json" }), { logFormat: "json" });
 * ```
 */
export function noticeSettings(flags: Flags, env: Env): { logFormat: LogFormat; pingUrl?: string } {
  const logPicked = pick(flags.logFormat, "--log-format", env, "BACKUP_LOG_FORMAT");
  const logFormat = logPicked?.value ?? "text";
  if (logFormat !== "text" && logFormat !== "json") {
    throw new ConfigError(logPicked?.from ?? "--log-format", logFormat, "expected text or json");
  }
  const ping = httpUrlSetting(flags.pingUrl, "--ping-url", env, "BACKUP_PING_URL");
  return { logFormat, ...(ping ? { pingUrl: ping.value } : {}) };
}

/** The Docker engine for the container labels, and the compose project they are read in. */
export interface DockerSettings {
  host: string;
  /** Whether DOCKER_HOST was given (then an absent engine is an error). */
  explicit: boolean;
  /** BACKUP_QUIESCE_GROUP: the compose project to quiesce; else this container's own. */
  group?: string;
}

/**
 * The Docker engine for the container labels; none when BACKUP_QUIESCE is off.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(dockerSettings({ BACKUP_QUIESCE: "off" }), {});
 * assertEquals(dockerSettings({ BACKUP_QUIESCE_GROUP: "shop" }).docker?.group, "shop");
 * ```
 */
export function dockerSettings(env: Env): { docker?: DockerSettings } {
  if (!bool(undefined, env, "BACKUP_QUIESCE", true)) return {};
  const host = env.DOCKER_HOST;
  if (host === "none") {
    // The docker CLI in the same shell would break on it: backupd has its own switch.
    throw new ConfigError(
      "DOCKER_HOST",
      host,
      "backupd no longer reads none here; set BACKUP_QUIESCE=off to turn the container labels off",
    );
  }
  const group = env.BACKUP_QUIESCE_GROUP?.trim();
  const docker: DockerSettings = {
    host: host || DEFAULT_DOCKER_HOST,
    explicit: host !== undefined && host !== "",
    ...(group ? { group } : {}),
  };
  try {
    parseDockerHost(docker.host);
  } catch (err) {
    throw new ConfigError(
      "DOCKER_HOST",
      docker.host,
      "expected unix:///path or tcp://host:port",
      {
        cause: err,
      },
    );
  }
  return { docker };
}
