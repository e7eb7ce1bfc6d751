// Settings from flags, then the environment, then defaults, checked without touching the disk
// (README: Settings). Every bad value becomes a ConfigError naming the flag or variable.

import { type Env, flagName, type Flags, type SettingKey } from "./catalog.ts";
import { type Given, Resolver } from "./resolver.ts";
import { type ArchiveSettings, archiveSettings } from "./archive_settings.ts";
import { type ScheduleSettings, scheduleSettings } from "./schedule_settings.ts";
import { type HookSettings, hookSettings } from "./hook_settings.ts";
import { type NoticeSettings, noticeSettings } from "./notice_settings.ts";
import { type DockerSettings, dockerSettings } from "./docker_settings.ts";
import { type OffsiteSettings, offsiteSettings } from "./offsite_settings.ts";
import { type DrillSettings, drillSettings } from "./drill_settings.ts";
import {
  postgresSettings,
  type PostgresTarget,
  type WalSettings,
  walSettings,
} from "./postgres_settings.ts";

export type { Env, Flags } from "./catalog.ts";
export type { PostgresTarget } from "./postgres_settings.ts";

/** Everything a command needs to know, resolved and checked. */
export interface Settings
  extends
    ArchiveSettings,
    ScheduleSettings,
    HookSettings,
    NoticeSettings,
    OffsiteSettings,
    DrillSettings {
  /** The Docker engine for the container labels; none when BACKUP_QUIESCE is off. */
  docker?: DockerSettings;
  /** The PostgreSQL server whose backup API keeps the copy consistent, if any. */
  postgres?: PostgresTarget;
  /** Continuous WAL archiving, when on (README: Point-in-time recovery). */
  wal?: WalSettings;
  /** The replication slot's name, also when archiving is off (for `wal drop-slot`). */
  walSlot: string;
  /** Each setting that was given, as written, and where it came from; the rest are defaults. */
  given: ReadonlyMap<SettingKey, Given>;
}

/** Facts about the system that defaults depend on. */
export interface System {
  /** The zone the system runs in. */
  timeZone: string;
  /** The system's temporary folder. @default {"/tmp"} */
  tempDir?: string;
  /** The user's home folder, for `~/.pgpass`. */
  home?: string;
}

/**
 * Resolves every setting: a flag wins over the environment, which wins over the default.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * const settings = resolveSettings({ dest: "/tmp/b" }, { BACKUP_SOURCE: "/srv" }, { timeZone: "UTC" });
 * assertEquals([settings.source, settings.dest, settings.tz], ["/srv", "/tmp/b", "UTC"]);
 * assertEquals(settings.given.get("dest")?.origin, { kind: "flag", name: "--dest" });
 * ```
 */
export function resolveSettings(flags: Flags, env: Env, system: System): Settings {
  const r = new Resolver(flags, env);
  const schedule = scheduleSettings(r, system.timeZone);
  return {
    ...archiveSettings(r),
    ...schedule,
    ...drillSettings(r, system.tempDir ?? "/tmp", schedule.tz),
    ...hookSettings(r),
    ...noticeSettings(r),
    ...dockerSettings(r),
    ...offsiteSettings(r),
    ...postgresSettings(r, system.home),
    ...walSettings(r, r.pick("postgres") !== undefined),
    given: r.given,
  };
}

/**
 * The flag or variable that gave a setting, for messages; its flag when it was not given.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * const settings = resolveSettings({}, { BACKUP_SOURCE: "/srv" }, { timeZone: "UTC" });
 * assertEquals([givenBy(settings, "source"), givenBy(settings, "dest")], ["BACKUP_SOURCE", "--dest"]);
 * ```
 */
export function givenBy(settings: Pick<Settings, "given">, key: SettingKey): string {
  return settings.given.get(key)?.origin.name ?? flagName(key) ?? key;
}
