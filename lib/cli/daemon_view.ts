// What `health`, `list` and `prune` run by hand take from the daemon that runs on DEST: its
// schedule, zone and retention (DEST/.backupd/daemon.json), where they were not given.

import { resolve } from "node:path";
import type { Settings } from "../settings/settings.ts";
import type { SettingKey } from "../settings/catalog.ts";
import { readDaemonState } from "../store/run_status.ts";
import { stateDirOf } from "../store/state_file.ts";

/** Which of the daemon's settings a command can take. */
export type DaemonSetting = "schedule" | "tz" | "keep";

/** The settings a command runs with, and those it took from the daemon, in words. */
export interface DaemonView {
  /** The settings, the daemon's where they were not given. */
  settings: Settings;
  /** What was taken from the daemon, as a person reads it; empty when nothing was. */
  taken: string[];
}

const KEEP_KEYS: readonly SettingKey[] = ["keepLast", "keepDaily", "keepWeekly", "keepMonthly"];

/** The retention rules as flags, for messages. */
function keepFlags(keep: Settings["keep"]): string {
  return (["last", "daily", "weekly", "monthly"] as const)
    .filter((rule) => keep[rule] !== undefined)
    .map((rule) => `--keep-${rule} ${keep[rule]}`).join(" ") || "none";
}

/**
 * The settings with the daemon's schedule, zone and retention in place of those not given
 * (by flag or environment); unchanged when no daemon ever ran on DEST, or its state is
 * unreadable (health says why on its own).
 */
export async function asTheDaemonRuns(
  settings: Settings,
  wanted: readonly DaemonSetting[],
): Promise<DaemonView> {
  const daemon = await readDaemonState(stateDirOf(resolve(settings.dest))).catch(() => undefined);
  if (!daemon) return { settings, taken: [] };
  const given = (keys: readonly SettingKey[]) => keys.some((key) => settings.given.has(key));
  const taken: string[] = [];
  let view = settings;
  if (wanted.includes("schedule") && daemon.schedule && !given(["schedule"])) {
    view = { ...view, schedule: daemon.schedule };
    taken.push(`schedule "${daemon.schedule}"`);
  }
  if (wanted.includes("tz") && daemon.tz && !given(["tz"])) {
    view = { ...view, tz: daemon.tz };
    taken.push(`zone ${daemon.tz}`);
  }
  if (wanted.includes("keep") && daemon.keep && !given(KEEP_KEYS)) {
    view = { ...view, keep: daemon.keep };
    taken.push(`retention ${keepFlags(daemon.keep)}`);
  }
  return { settings: view, taken };
}

/**
 * The note a command adds when it took the daemon's settings.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(takenNote(["zone Europe/Berlin"]), " (as the daemon on DEST runs: zone Europe/Berlin)");
 * assertEquals(takenNote([]), "");
 * ```
 */
export function takenNote(taken: readonly string[]): string {
  return taken.length === 0 ? "" : ` (as the daemon on DEST runs: ${taken.join(", ")})`;
}
