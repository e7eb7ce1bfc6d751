// What `health`, `list` and `prune` run by hand take from the daemon that runs on DEST: its
// schedule, zone and retention (DEST/.backupd/daemon.json), where they were not given.

import { resolve } from "node:path";
import type { Settings } from "../settings/settings.ts";
import type { SettingKey } from "../settings/catalog.ts";
import { KEEP_SETTINGS } from "./command.ts";
import { type DaemonState, readDaemonState } from "../store/run_status.ts";
import { checkSchedule, checkTimeZone } from "../settings/value_checks.ts";
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

/** The retention rules, as KeepPolicy names them. */
const RULES = ["last", "daily", "weekly", "monthly", "within"] as const;

/** The retention rules as flags, for messages. */
function keepFlags(keep: Settings["keep"]): string {
  return RULES
    .filter((rule) => keep[rule] !== undefined)
    .map((rule) =>
      rule === "within"
        ? `--keep-within ${Math.round((keep.within as number) / 3_600_000)}h`
        : `--keep-${rule} ${keep[rule]}`
    ).join(" ") || "none";
}

/**
 * The settings with the daemon's schedule, zone and retention in place of those not given
 * (by flag or environment). What daemon.json holds is checked as a setting would be: a
 * value that does not check out (a file edited by hand) is not taken.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { resolveSettings } from "../settings/settings.ts";
 * const settings = resolveSettings({ dest: "/b", schedule: "0 3 * * *" }, {}, { timeZone: "UTC" });
 * const daemon = { pid: 1, started: "", nextSlot: null, running: false, schedule: "* * * * *", tz: "Asia/Tokyo", keep: { last: 2 } };
 * const view = daemonView(settings, daemon, ["schedule", "tz", "keep"]);
 * assertEquals([view.settings.schedule, view.settings.tz, view.settings.keep], ["0 3 * * *", "Asia/Tokyo", { last: 2 }]);
 * assertEquals(view.taken, ["zone Asia/Tokyo", "retention --keep-last 2"]);
 * assertEquals(daemonView(settings, { ...daemon, tz: "Mars/Olympus" }, ["tz"]).taken, []);
 * ```
 */
export function daemonView(
  settings: Settings,
  daemon: DaemonState | undefined,
  wanted: readonly DaemonSetting[],
): DaemonView {
  if (!daemon) return { settings, taken: [] };
  const given = (keys: readonly SettingKey[]) => keys.some((key) => settings.given.has(key));
  const taken: string[] = [];
  let view = settings;
  const tz = wanted.includes("tz") && !given(["tz"])
    ? checked(() => daemon.tz && checkTimeZone(daemon.tz, "tz"))
    : undefined;
  const zone = tz ?? settings.tz;
  const schedule = wanted.includes("schedule") && !given(["schedule"])
    ? checked(() => daemon.schedule && checkSchedule(daemon.schedule, "schedule", zone))
    : undefined;
  if (schedule) {
    view = { ...view, schedule };
    taken.push(`schedule "${schedule}"`);
  }
  if (tz) {
    view = { ...view, tz };
    taken.push(`zone ${tz}`);
  }
  if (wanted.includes("keep") && !given(KEEP_SETTINGS) && isKeepPolicy(daemon.keep)) {
    view = { ...view, keep: daemon.keep };
    taken.push(`retention ${keepFlags(daemon.keep)}`);
  }
  return { settings: view, taken };
}

/** The value `check` returns, or none when it throws (the value does not check out). */
function checked(check: () => string | undefined): string | undefined {
  try {
    return check() || undefined;
  } catch {
    return undefined; // Not a zone or schedule any more: the command's own is used.
  }
}

/** Whether `keep` is a retention policy: rules of whole numbers and nothing else. */
function isKeepPolicy(keep: unknown): keep is Settings["keep"] {
  if (typeof keep !== "object" || keep === null) return false;
  return Object.entries(keep).every(([rule, n]) =>
    (RULES as readonly string[]).includes(rule) && Number.isSafeInteger(n) && n >= 0
  );
}

/**
 * {@linkcode daemonView} over the daemon.json under DEST; unchanged when no daemon ever ran
 * there, or its state cannot be read (`health` says why on its own).
 */
export async function asTheDaemonRuns(
  settings: Settings,
  wanted: readonly DaemonSetting[],
): Promise<DaemonView> {
  const daemon = await readDaemonState(stateDirOf(resolve(settings.dest))).catch(() => undefined);
  return daemonView(settings, daemon, wanted);
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
