// The one shape every command has (README: Commands): a name, a description, the settings
// and options it takes, its operands, and `run(ctx)`. cli.ts builds commander from these.

import type { Logger } from "../base/log.ts";
import type { SettingKey } from "../settings/catalog.ts";
import type { Settings } from "../settings/settings.ts";
import type { Io } from "./io.ts";

/** An option of one command only (`--json`, `--dry-run`), not a setting. */
export interface CommandOption {
  /** As commander reads it: `--to <dir>`. */
  flag: string;
  /** What it does, for `--help`. */
  help: string;
  /** Given more than once, it collects its values. */
  repeatable?: boolean;
  /** The command refuses to run without it. */
  required?: boolean;
}

/** The values of a command's own options, by commander's name for them. */
export type CommandOptions = Record<string, string | string[] | boolean | undefined>;

/** What a command reads and writes while it runs. */
export interface CommandIo {
  /** Writes to stdout. */
  stdout: (text: string) => void;
  /** The clock, in epoch milliseconds. */
  now: () => number;
  /** Where events go (stderr). */
  log: Logger;
  /** Whether this process runs as root (restore then restores owners). */
  isRoot: boolean;
  /** This process's id, written into the lock. */
  pid: number;
}

/** Everything a command is given to run. */
export interface CommandContext extends CommandIo {
  /** The settings, resolved and checked. */
  settings: Settings;
  /** The command's own options. */
  options: CommandOptions;
  /** Its operands (archive names). */
  operands: string[];
  /** The process: signals, terminals, stderr. */
  io: Io;
}

/** A command: what it is called, what it takes, and what it does. */
export interface Command {
  /** Its name on the command line. */
  name: string;
  /** One line for `--help`. */
  description: string;
  /** The settings it takes, in the order `--help` lists them. */
  settings: readonly SettingKey[];
  /** Its own options, by commander's name for them. */
  options?: Readonly<Record<string, CommandOption>>;
  /** Its operands as commander reads them (`<archive>`, `[archive...]`), with help. */
  operands?: { spec: string; help: string };
  /** Runs it; the exit code. */
  run(ctx: CommandContext): Promise<number> | number;
}

/** The settings that say where a bucket is and how to reach it. */
export const BUCKET_SETTINGS: readonly SettingKey[] = [
  "s3Url",
  "s3Endpoint",
  "s3Region",
  "s3PathStyle",
];

/** The settings a backup takes, for `now` and `run`. */
export const BACKUP_SETTINGS: readonly SettingKey[] = [
  "source",
  "dest",
  "defaultSource",
  "defaultDest",
  "tz",
  "logFormat",
  "exclude",
  "keepLast",
  "keepDaily",
  "keepWeekly",
  "keepMonthly",
  "keepWithin",
  "compression",
  "pingUrl",
  "notify",
  "notifyOn",
  "metricsFile",
  "preHook",
  "postHook",
  "hookTimeout",
  "ageRecipient",
  ...BUCKET_SETTINGS,
  "postgres",
];

/** The settings of the daemon: a backup's, its schedule, its metrics and WAL archiving. */
export const DAEMON_SETTINGS: readonly SettingKey[] = [
  ...BACKUP_SETTINGS,
  "schedule",
  "catchUp",
  "runOnStart",
  "metricsListen",
  "wal",
  "walInterval",
  "walSlot",
  "walMaxRetained",
  "drillSchedule",
  "drillDir",
  "drillCheck",
  "drillDatabase",
  "pgBin",
];

/** The retention rules. */
export const KEEP_SETTINGS: readonly SettingKey[] = [
  "keepLast",
  "keepDaily",
  "keepWeekly",
  "keepMonthly",
  "keepWithin",
];
