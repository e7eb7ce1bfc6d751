// `backupd health`: one line, exit 0 when backups are current, 1 when not, whatever the
// state files hold.

import { resolve } from "node:path";
import { describeError, EXIT, fsReason } from "../base/errors.ts";
import { assessHealth, drillProblem, type Health, walProblem } from "../daemon/health.ts";
import { readDrillRecord } from "../store/drill_record.ts";
import { localWalStore, readWalState } from "../store/wal_store.ts";
import { readWalCatalog } from "../postgres/wal_catalog.ts";
import { instantOf } from "../store/names.ts";
import { cronSlots } from "../daemon/schedule.ts";
import { stateDirOf } from "../store/state_file.ts";
import type { Settings } from "../settings/settings.ts";
import { type DaemonState, readDaemonState, readLastRun } from "../store/run_status.ts";
import type { Command, CommandIo } from "./command.ts";
import { daemonView, takenNote } from "./daemon_view.ts";
import { localStore } from "../store/local_store.ts";
import { statIfPresent } from "../base/files.ts";

/**
 * `backupd health [--json]`: one line (or one JSON object), exit 0 when backups are
 * current, else 1.
 */
export const healthCommand: Command = {
  name: "health",
  description: "exit 0 when backups are current, else 1, with one line saying why",
  settings: ["dest", "tz", "schedule", "logFormat", "drillMaxAge"],
  options: { json: { flag: "--json", help: "print the verdict as one JSON object" } },
  async run(ctx) {
    // daemon.json is read once: for the daemon's schedule and zone, and for the verdict.
    const daemon = await readDaemonState(stateDirOf(resolve(ctx.settings.dest))).then(
      (state) => ({ state }),
      (error: unknown) => ({ state: undefined, error }),
    );
    const { settings, taken } = daemonView(ctx.settings, daemon.state, ["schedule", "tz"]);
    const verdict = await judgeHealth(settings, ctx, daemon);
    // What the daemon last read of the server's limit on the slot's WAL (null: no limit).
    const limit = daemon.state?.wal
      ? (await readWalState(resolve(settings.dest)).catch(() => undefined))?.slotLimitBytes
      : undefined;
    ctx.stdout(
      ctx.options.json
        ? `${
          JSON.stringify({
            ...verdict,
            schedule: settings.schedule,
            tz: settings.tz,
            ...(limit !== undefined ? { serverMaxSlotWalKeepSizeBytes: limit } : {}),
          })
        }\n`
        : `${verdict.healthy ? "healthy" : "unhealthy"}: ${verdict.reason}${takenNote(taken)}\n`,
    );
    return verdict.healthy ? EXIT.ok : 1;
  },
};

async function judgeHealth(
  settings: Settings,
  io: CommandIo,
  read: { state: DaemonState | undefined; error?: unknown },
): Promise<Health> {
  const dest = resolve(settings.dest);
  const stateDir = stateDirOf(dest);
  let health: Health;
  try {
    const newest = (await localStore(dest).list()).at(-1);
    if (read.error !== undefined) throw read.error;
    const daemon = read.state;
    const never = await neverUsed(dest, stateDir, { hasArchive: newest !== undefined });
    if (never) return { healthy: false, reason: never };
    if (daemon?.problem) {
      const reason =
        `the daemon cannot start its backups: ${daemon.problem} (it checks again every minute)`;
      return { healthy: false, reason };
    }
    health = assessHealth({
      now: io.now(),
      slots: cronSlots(settings.schedule, settings.tz),
      lastRun: await readLastRun(stateDir),
      newestArchive: newest ? instantOf(newest, settings.tz) : undefined,
      daemonStarted: daemon ? Date.parse(daemon.started) : undefined,
      tz: settings.tz,
    });
    const wal = daemon?.wal ? await readWalState(dest) : undefined;
    const walIssue = wal && health.healthy
      ? walProblem(wal, {
        now: io.now(),
        newestBaseStart: (await readWalCatalog(localWalStore(dest))).bases.at(-1)?.start,
        tz: settings.tz,
      })
      : undefined;
    if (walIssue) health = { healthy: false, reason: walIssue };
    const drillIssue = settings.drillMaxAgeMs !== undefined && health.healthy
      ? drillProblem(
        (await readDrillRecord(dest)).passed,
        settings.drillMaxAgeMs,
        io.now(),
        settings.tz,
      )
      : undefined;
    if (drillIssue) health = { healthy: false, reason: drillIssue };
    // Runs that cannot write their result leave an old one behind that may still look good.
    const unwritable = health.healthy ? await notWritable(stateDir) : undefined;
    if (unwritable) {
      health = {
        healthy: false,
        reason: `runs cannot record their results: "${stateDir}" is not writable (${unwritable})`,
      };
    }
  } catch (err) {
    // health answers 0 or 1: a state it cannot read is a reason to be unhealthy.
    health = { healthy: false, reason: describeError(err) };
  }
  return health;
}

/**
 * Why DEST is not one backupd has ever used: missing, not a folder, or holding neither an
 * archive nor a state folder (no daemon started on it, no run ever finished in it). A
 * mistyped DEST must not answer "healthy: no archive yet".
 */
async function neverUsed(
  dest: string,
  stateDir: string,
  { hasArchive }: { hasArchive: boolean },
): Promise<string | undefined> {
  const info = await statIfPresent(dest, { follow: true });
  if (!info) return `DEST "${dest}" does not exist`;
  if (!info.isDirectory) return `DEST "${dest}" is not a folder`;
  if (hasArchive || await statIfPresent(stateDir, { follow: true })) return undefined;
  return `no backup has ever run into "${dest}" (no archive, no state folder): is DEST right?`;
}

/** Why a folder cannot be written to (read-only file system, full, permission denied), if so. */
async function notWritable(dir: string): Promise<string | undefined> {
  // A write tells: permission bits do not show a read-only mount, not to root at least.
  const probe = `${dir}/.health-probe-${Deno.pid}`;
  try {
    await Deno.writeFile(probe, new Uint8Array(0), { mode: 0o600 });
    await Deno.remove(probe);
    return undefined;
  } catch (err) {
    // No state folder yet: nothing has run, which assessHealth judges on its own.
    if (err instanceof Deno.errors.NotFound) return undefined;
    return fsReason(err);
  }
}
