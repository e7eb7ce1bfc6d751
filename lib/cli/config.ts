// `backupd config`: every effective setting and where it came from (a flag, the
// environment, a file named by a `_FILE` variable, or the default), secrets masked.

import { EXIT } from "../base/errors.ts";
import { displayName, type SettingKey, settingKeys, specOf } from "../settings/catalog.ts";
import type { Origin } from "../settings/resolver.ts";
import type { Settings } from "../settings/settings.ts";
import { maskPassword } from "../settings/value_checks.ts";
import { type Command, DAEMON_SETTINGS } from "./command.ts";
import { formatTable } from "./table.ts";
import { resolve } from "node:path";
import { formatBytes } from "../base/bytes.ts";
import { readWalState } from "../store/wal_store.ts";
import { stateDirOf } from "../store/state_file.ts";

/** One setting as `config` shows it. */
export interface ConfigRow {
  /** Its name: the flag without `--`, or a name of its own for a variable. */
  setting: string;
  /** Its value; `***` for a secret; empty when unset. */
  value: string;
  /** `flag --x`, `environment VAR`, `file PATH (VAR_FILE)` or `default`. */
  from: string;
}

/** How an origin reads in `config`. */
function describeOrigin(origin: Origin | undefined): string {
  if (!origin) return "default";
  if (origin.kind === "file") return `file ${origin.file} (${origin.name})`;
  return `${origin.kind} ${origin.name}`;
}

/** A setting's value as shown: a secret masked, a password in an address masked. */
function shownValue(key: SettingKey, settings: Settings): string {
  const spec = specOf(key);
  const given = settings.given.get(key);
  if (given) return spec.secret ? "***" : maskPassword(given.value);
  if (key === "wal") return settings.wal ? "on" : "off";
  // A default that the system decides (the zone) or a task gave (SOURCE, DEST) is shown as
  // resolved; the rest as the catalog says.
  const resolved = (settings as unknown as Record<string, unknown>)[key];
  return typeof resolved === "string" ? resolved : spec.default ?? "";
}

/** Settings that mean something only beside another; the rest always apply. */
const APPLIES: Partial<Record<SettingKey, (settings: Settings) => boolean>> = {
  // Under --postgres nothing is quiesced; with BACKUP_QUIESCE=off no engine is asked.
  quiesce: (s) => s.postgres === undefined,
  dockerHost: (s) => s.postgres === undefined && s.docker !== undefined,
  quiesceGroup: (s) => s.postgres === undefined && s.docker !== undefined,
  postgresPassword: (s) => s.postgres !== undefined,
  postgresPassfile: (s) => s.postgres !== undefined,
  notifyOn: (s) => s.notify.length > 0,
  walInterval: (s) => s.wal !== undefined,
  walMaxRetained: (s) => s.wal !== undefined,
  hookTimeout: (s) => s.preHook !== undefined || s.postHook !== undefined,
  s3Endpoint: (s) => s.s3 !== undefined,
  s3Region: (s) => s.s3 !== undefined,
  s3PathStyle: (s) => s.s3 !== undefined,
  s3AccessKey: (s) => s.s3 !== undefined,
  s3SecretKey: (s) => s.s3 !== undefined,
  s3SessionToken: (s) => s.s3 !== undefined,
};

/**
 * The effective settings that apply, with the origins the resolver recorded.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { resolveSettings } from "../settings/settings.ts";
 * const flags = { dest: "/b", postgres: "postgres://app@db/shop" };
 * const settings = resolveSettings(flags, { PGPASSWORD: "pw" }, { timeZone: "UTC" });
 * const rows = configRows(settings);
 * assertEquals(rows.find((r) => r.setting === "dest"), { setting: "dest", value: "/b", from: "flag --dest" });
 * assertEquals(rows.find((r) => r.setting === "tz"), { setting: "tz", value: "UTC", from: "default" });
 * assertEquals(rows.find((r) => r.setting === "postgres password")?.value, "***");
 * ```
 */
export function configRows(settings: Settings): ConfigRow[] {
  const applies = (key: SettingKey) => APPLIES[key]?.(settings) ?? true;
  return settingKeys().filter((key) => !specOf(key).hidden && applies(key)).map((key) => ({
    setting: displayName(key),
    value: shownValue(key, settings),
    from: describeOrigin(settings.given.get(key)?.origin),
  }));
}

/**
 * What the daemon read from the server that bears on the settings: its limit on the WAL a
 * slot holds (README: Point-in-time recovery). None before a daemon archived WAL to DEST.
 */
async function serverRows(settings: Settings): Promise<ConfigRow[]> {
  if (settings.wal === undefined) return [];
  const state = await readWalState(resolve(settings.dest)).catch(() => undefined);
  if (state?.slotLimitBytes === undefined) return [];
  return [{
    setting: "server max_slot_wal_keep_size",
    value: state.slotLimitBytes === null
      ? "-1 (no limit: the slot can fill the server's disk)"
      : formatBytes(state.slotLimitBytes),
    from: `the server, as the daemon read it (${stateDirOf(resolve(settings.dest))}/wal.json)`,
  }];
}

/** `backupd config [--json]`: every effective setting, its value and where it came from. */
export const configCommand: Command = {
  name: "config",
  description:
    "every effective setting and where it comes from (flag, environment, file, default), secrets masked",
  settings: [
    ...DAEMON_SETTINGS,
    "ageIdentity",
    "drillMaxAge",
  ],
  options: { json: { flag: "--json", help: "print the settings as one JSON object" } },
  async run(ctx) {
    const rows = [...configRows(ctx.settings), ...await serverRows(ctx.settings)];
    if (ctx.options.json) {
      ctx.stdout(`${JSON.stringify({ settings: rows })}\n`);
      return EXIT.ok;
    }
    ctx.stdout(formatTable([
      ["SETTING", "VALUE", "FROM"],
      ...rows.map((row) => [row.setting, row.value || "-", row.from]),
    ]));
    return EXIT.ok;
  },
};
