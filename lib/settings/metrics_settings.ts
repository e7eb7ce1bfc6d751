// Where Prometheus metrics go (README: Metrics): an address the daemon serves /metrics on,
// and a node_exporter textfile written after every run.

import { ConfigError } from "../base/errors.ts";
import type { Env, Flags } from "./flags.ts";
import { pick } from "./values.ts";

/** An address to listen on. */
export interface ListenAddress {
  hostname: string;
  port: number;
}

/**
 * Reads `HOST:PORT`, `:PORT` (every interface) or `PORT`; throws a `ConfigError` naming it.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(listenAddress("127.0.0.1:9187", "--metrics-listen"), { hostname: "127.0.0.1", port: 9187 });
 * assertEquals(listenAddress(":9187", "--metrics-listen"), { hostname: "0.0.0.0", port: 9187 });
 * ```
 */
export function listenAddress(value: string, from: string): ListenAddress {
  const match = /^(?:\[?([^\]]*)\]?:)?(\d+)$/.exec(value.trim());
  const port = Number(match?.[2]);
  if (!match || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConfigError(from, value, "expected HOST:PORT, :PORT or PORT");
  }
  return { hostname: match[1] || "0.0.0.0", port };
}

/**
 * `--metrics-listen` / `BACKUP_METRICS_LISTEN` and `--metrics-file` / `BACKUP_METRICS_FILE`.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(metricsSettings({}, { BACKUP_METRICS_FILE: "/var/lib/node_exporter/backupd.prom" }), {
 *   metricsFile: "/var/lib/node_exporter/backupd.prom",
 * });
 * ```
 */
export function metricsSettings(
  flags: Flags,
  env: Env,
): { metricsListen?: ListenAddress; metricsFile?: string } {
  const listen = pick(flags.metricsListen, "--metrics-listen", env, "BACKUP_METRICS_LISTEN");
  const file = pick(flags.metricsFile, "--metrics-file", env, "BACKUP_METRICS_FILE");
  return {
    ...(listen ? { metricsListen: listenAddress(listen.value, listen.from) } : {}),
    ...(file ? { metricsFile: file.value } : {}),
  };
}
