// How runs are told to the world: the log format, pings, notifications and where the
// Prometheus metrics go (README: Notifications, Metrics, Pings).

import { ConfigError } from "../base/errors.ts";
import type { LogFormat } from "../base/log.ts";
import { flagName, SETTINGS } from "./catalog.ts";
import { type NotifyTarget, notifyTarget } from "./notify_target.ts";
import type { Resolver } from "./resolver.ts";
import { type ListenAddress, listenAddress } from "./value_checks.ts";

/** When to send: only for a failed run, or after every run. */
export type NotifyOn = "failure" | "always";

/** How runs are told to the world. */
export interface NoticeSettings {
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
}

/** Reads a setting that takes one of `choices`, the catalog's default when not given. */
function oneOf<T extends string>(
  r: Resolver,
  key: "logFormat" | "notifyOn",
  choices: readonly T[],
): T {
  const picked = r.pick(key);
  const value = picked?.value ?? SETTINGS[key].default;
  if (!choices.includes(value as T)) {
    throw new ConfigError(
      picked?.from ?? flagName(key) ?? key,
      value,
      `expected ${choices.join(" or ")}`,
    );
  }
  return value as T;
}

/**
 * The log format, the ping address, the notification targets and when they are sent, and
 * where metrics go.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { Resolver } from "./resolver.ts";
 * assertEquals(noticeSettings(new Resolver({}, { BACKUP_LOG_FORMAT: "json" })), {
 *   logFormat: "json",
 *   notify: [],
 *   notifyOn: "failure",
 * });
 * ```
 */
export function noticeSettings(r: Resolver): NoticeSettings {
  const logFormat = oneOf(r, "logFormat", ["text", "json"] as const);
  const ping = r.httpUrl("pingUrl");
  const { values, from } = r.list("notify");
  const notifyOn = oneOf(r, "notifyOn", ["failure", "always"] as const);
  const listen = r.pick("metricsListen");
  const file = r.pick("metricsFile");
  return {
    logFormat,
    ...(ping ? { pingUrl: ping.value } : {}),
    notify: values.map((value) => notifyTarget(value, from)),
    notifyOn,
    ...(listen ? { metricsListen: listenAddress(listen.value, listen.from) } : {}),
    ...(file ? { metricsFile: file.value } : {}),
  };
}
