// `backupd prune [--dry-run]`: the retention policy applied to DEST (and the bucket),
// listing keep/remove with reasons.

import { resolve } from "node:path";
import { EXIT, RunError } from "../base/errors.ts";
import { acquireLock } from "../store/lock.ts";
import { statIfPresent } from "../base/files.ts";
import { hasRules, type PolicyResult, type RecoveryWindow } from "../store/retention.ts";
import { isoInZone } from "../store/names.ts";
import { type ArchiveStore, pruneStore } from "../store/archive_store.ts";
import { localStore } from "../store/local_store.ts";
import { stateDirOf } from "../store/state_file.ts";
import { pruneWal, readWalCatalog } from "../postgres/wal_catalog.ts";
import { BUCKET_SETTINGS, type Command, type CommandContext, KEEP_SETTINGS } from "./command.ts";
import { configuredRemote } from "./find_archive.ts";
import { asTheDaemonRuns } from "./daemon_view.ts";
import type { Settings } from "../settings/settings.ts";

/** `backupd prune [--dry-run] [--json]`: prints the plan, and carries it out unless a dry run. */
export const pruneCommand: Command = {
  name: "prune",
  description: "apply the retention policy, listing keep/remove with reasons",
  settings: ["dest", "tz", "logFormat", ...KEEP_SETTINGS, ...BUCKET_SETTINGS],
  options: {
    dryRun: { flag: "--dry-run", help: "print the plan and change nothing" },
    json: { flag: "--json", help: "print the plan as one JSON object" },
  },
  run: prune,
};

async function prune(ctx: CommandContext): Promise<number> {
  const { settings, taken } = await asTheDaemonRuns(ctx.settings, ["tz", "keep"]);
  const io = ctx;
  const dryRun = ctx.options.dryRun === true;
  const json = ctx.options.json === true;
  if (!json && taken.length > 0) io.stdout(`as the daemon on DEST runs: ${taken.join(", ")}\n`);
  const fromDaemon = taken.length > 0 ? { fromDaemon: taken } : {};
  const dest = resolve(settings.dest);
  if (!hasRules(settings.keep)) {
    io.stdout(
      json
        ? `${JSON.stringify({ dryRun, rules: false, stores: [], ...fromDaemon })}\n`
        : "no retention rule is set (--keep-last, --keep-daily, --keep-weekly, --keep-monthly): nothing to do\n",
    );
    return EXIT.ok;
  }
  if (!(await statIfPresent(dest, { follow: true }))?.isDirectory) {
    throw new RunError(`Cannot prune "${dest}": no such folder`);
  }
  // Pruning takes the lock so it never races a run that is writing or pruning.
  if (!dryRun) await Deno.mkdir(stateDirOf(dest), { recursive: true, mode: 0o700 });
  const lock = dryRun
    ? undefined
    : await acquireLock(stateDirOf(dest), `pid ${io.pid} (backupd prune)`);
  try {
    const stores: ArchiveStore[] = [localStore(dest)];
    if (settings.s3) stores.push(await configuredRemote(settings, "prune the bucket"));
    const plans: StorePlan[] = [];
    for (const store of stores) {
      const done = await pruneOne(store, settings, ctx.now(), dryRun);
      if (json) plans.push(done.json);
      else io.stdout(done.text(store === stores[0]));
    }
    if (json) {
      io.stdout(`${JSON.stringify({ dryRun, rules: true, stores: plans, ...fromDaemon })}\n`);
    }
    return EXIT.ok;
  } finally {
    lock?.release();
  }
}

/** One store's plan as `--json` shows it. */
interface StorePlan {
  location: string;
  keep: unknown[];
  remove: unknown[];
  removeWal: string[];
  window?: unknown;
}

/**
 * Retention on one store (its WAL with it, the recovery window kept); the plan as JSON, and
 * as lines (`inDest`: DEST's, which needs no location).
 */
async function pruneOne(
  store: ArchiveStore,
  settings: Settings,
  now: number,
  dryRun: boolean,
): Promise<{ json: StorePlan; text: (inDest: boolean) => string }> {
  const walStore = store.wal();
  const catalog = await readWalCatalog(walStore);
  const show = (ms: number) => isoInZone(ms, settings.tz);
  const plan = await pruneStore(store, settings.keep, {
    dryRun,
    window: { bases: catalog.bases, now, show },
  });
  const wal = await pruneWal(walStore, new Set(plan.keep), { dryRun, catalog });
  const entry = (path: string) => ({ path, reasons: plan.reasons.get(path) ?? [] });
  const json: StorePlan = {
    location: store.url(),
    keep: plan.keep.map(entry),
    remove: plan.remove.map(entry),
    removeWal: wal.map((file) => walStore.url(file)),
    ...(plan.window ? { window: windowJson(plan.window, store) } : {}),
  };
  const text = (inDest: boolean) =>
    planText(plan, store, { inDest, dryRun }) +
    (plan.window ? `${windowLine(plan.window, store, show)}\n` : "") +
    (wal.length > 0
      ? `${dryRun ? "would remove" : "removed"} ${wal.length} WAL files, ${
        walStore.url(wal[0])
      } to ${walStore.url(wal.at(-1))}  (they begin before the oldest kept base backup)\n`
      : "");
  return { json, text };
}

/** A store's plan as lines: keep and remove with reasons, then what was (or would be) done. */
function planText(
  plan: PolicyResult,
  store: ArchiveStore,
  { inDest, dryRun }: { inDest: boolean; dryRun: boolean },
): string {
  const where = inDest ? "" : ` in ${store.url()}`;
  const line = (verb: string) => (path: string) =>
    `${verb} ${store.url(path)}  (${plan.reasons.get(path)?.join(", ")})\n`;
  return [
    ...plan.keep.map(line("keep  ")),
    ...plan.remove.map(line("remove")),
    dryRun
      ? `dry run${where}: would keep ${plan.keep.length} and remove ${plan.remove.length}; nothing was changed\n`
      : `kept ${plan.keep.length}, removed ${plan.remove.length}${where}\n`,
  ].join("");
}

/** Where the promised recovery window starts and the base that keeps it, in one line. */
export function windowLine(
  window: RecoveryWindow,
  store: { url(path?: string): string },
  show: (ms: number) => string,
): string {
  const reached = window.recoverableFrom <= window.from;
  return `recovery window: every moment since ${
    show(reached ? window.from : window.recoverableFrom)
  } stays recoverable, from base ${store.url(window.holder)} (ended ${
    show(window.recoverableFrom)
  })${reached ? "" : "; the window is not that old yet"}`;
}

function windowJson(window: RecoveryWindow, store: { url(path?: string): string }) {
  return {
    from: new Date(window.from).toISOString(),
    base: store.url(window.holder),
    recoverableFrom: new Date(window.recoverableFrom).toISOString(),
  };
}
