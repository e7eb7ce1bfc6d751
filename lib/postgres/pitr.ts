// Point-in-time recovery (README: Point-in-time recovery): from a WAL folder and its bases'
// records, the plan for a target time (or the end of the WAL) is made and checked before
// anything is written: the base, the segments and history files of each timeline from the
// base's start to the target, the newest partial copy. Then the WAL is put into the
// restored base's pg_wal/ and recovery is configured, so a plain start replays and opens.

import { UsageError } from "../base/errors.ts";
import { isoInZone } from "../store/names.ts";
import {
  formatLsn,
  historyName,
  parseHistory,
  segmentName,
  segmentStart,
  segnoOf,
  type TimelineSwitch,
} from "../store/wal_names.ts";
import type { WalStore } from "../store/wal_store.ts";
import { type CatalogBase, type CatalogFile, type WalCatalog, walRanges } from "./wal_catalog.ts";
import { walTimes } from "./wal_records.ts";
import { type ChainSegment, readWalChain, type WalChain } from "./wal_chain.ts";
import { readWalBytes, readWalOrSuccessor, WalDamageError } from "./wal_read.ts";

/** The moment to recover to: a time, as far as the WAL goes, or just before a transaction. */
export type RecoveryTarget = { time: number } | { latest: true } | { beforeXid: number };

/** What a recovery restores and replays, checked. */
export interface RecoveryPlan {
  /** The base backup restored first. */
  base: CatalogBase;
  /** The timelines replayed, the base's first. */
  timelines: number[];
  /** Segments and history files put into pg_wal/, in order. */
  files: CatalogFile[];
  /** The partial copy put into pg_wal/ zero-padded under its segment's name, if any. */
  partial?: CatalogFile;
  /** The recovery_target_time, when recovery must stop before the end of the WAL. */
  stopAt?: number;
  /** How far the archived WAL reaches: when its newest file was stored, Unix ms. */
  reach: number;
  /** The last transaction end in the WAL replayed, Unix ms, when one was found. */
  lastEnd?: number;
  /** For `before-xid:N`: recovery stops just before this transaction's commit or abort. */
  stopXid?: number;
}

/** What planning needs besides the catalog. */
export interface PlanContext {
  /** The WAL folder, to read history files and WAL for transaction times. */
  store: WalStore;
  /** The archives the store's side still holds, relative paths. */
  archives: ReadonlySet<string>;
  /** age identities, for encrypted WAL. */
  identities: readonly string[];
  /** Now, Unix ms. */
  now: number;
  /** The zone times are shown in. */
  timeZone: string;
}

/** The timeline chain from the base's timeline to the newest one that descends from it. */
async function timelineChain(
  catalog: WalCatalog,
  base: CatalogBase,
  context: PlanContext,
): Promise<{ chain: number[]; switches: TimelineSwitch[]; histories: CatalogFile[] }> {
  let best = {
    chain: [base.timeline],
    switches: [] as TimelineSwitch[],
    histories: [] as CatalogFile[],
  };
  for (const history of catalog.histories) {
    if (history.timeline <= base.timeline) continue;
    const text = new TextDecoder().decode(
      await readWalBytes(context.store, history, context.identities),
    );
    const switches = parseHistory(text);
    const at = switches.findIndex((s) => s.parent === base.timeline);
    // The timeline must leave the base's after the base is consistent.
    if (at < 0 || (switches[at] as TimelineSwitch).switchpoint < base.stop) continue;
    const kept = switches.slice(at);
    const chain = [...kept.map((s) => s.parent), history.timeline];
    if (history.timeline > (best.chain.at(-1) as number)) {
      const names = new Set(chain.slice(1).map(historyName));
      best = {
        chain,
        switches: kept,
        histories: catalog.histories.filter((h) => names.has(h.wal)),
      };
    }
  }
  return best;
}

/** The segments the chain needs, in order, up to the first one missing. */
function neededSegments(
  catalog: WalCatalog,
  base: CatalogBase,
  chain: number[],
  switches: TimelineSwitch[],
): { found: CatalogFile[]; missing?: string; partial?: CatalogFile } {
  const size = catalog.segmentBytes;
  const byName = new Map(catalog.segments.map((s) => [s.wal, s]));
  const found: CatalogFile[] = [];
  let segno = segnoOf(base.start, size);
  for (let i = 0; i < chain.length; i++) {
    const timeline = chain[i] as number;
    const last = i < chain.length - 1
      ? segnoOf((switches[i] as TimelineSwitch).switchpoint, size) - 1
      : Infinity;
    for (; segno <= last; segno++) {
      const name = segmentName(timeline, segno, size);
      const segment = byName.get(name);
      if (segment) {
        found.push(segment);
        continue;
      }
      if (last !== Infinity) return { found, missing: name };
      // The end of the final timeline: the partial copy of this segment, if any, ends it.
      const partial = catalog.partials.find((p) => p.wal === `${name}.partial`);
      const later = catalog.segments.some((s) => s.timeline === timeline && s.segno > segno);
      if (later) return { found, missing: name, ...(partial ? { partial } : {}) };
      return { found, ...(partial ? { partial } : {}) };
    }
    segno = last + 1;
  }
  return { found };
}

/** The last transaction end in `files` (newest first searched), Unix ms. */
async function lastEndIn(
  files: readonly CatalogFile[],
  context: PlanContext,
  size: number,
): Promise<number | undefined> {
  for (const file of [...files].reverse()) {
    const { bytes } = await readWalOrSuccessor(context.store, file, context.identities, size);
    const times = walTimes(bytes, segmentStart(file.segno, size));
    if (times.last !== undefined) return times.last;
  }
  return undefined;
}

/** When transaction `xid` committed or aborted, from the archived WAL (Unix ms). */
async function xidEndTime(catalog: WalCatalog, xid: number, context: PlanContext): Promise<number> {
  for (const range of walRanges(catalog.segments)) {
    const files = catalog.segments.filter((f) =>
      f.timeline === range.timeline && f.segno >= range.first && f.segno <= range.last
    );
    const partial = catalog.partials.find((p) =>
      p.timeline === range.timeline && p.segno === range.last + 1
    );
    const chain = await readWalChain(
      [...files, ...(partial ? [partial] : [])].map((file) => ({
        name: file.wal.replace(/\.partial$/, ""),
        segno: file.segno,
        load: () => readWalBytes(context.store, file, context.identities),
      })),
      catalog.segmentBytes,
      { stopAtXid: xid },
    );
    if (chain.passedTarget && chain.lastTime !== undefined) return chain.lastTime;
  }
  throw new UsageError(
    `Cannot recover to before transaction ${xid}: no commit or abort of it is in the archived WAL (backupd wal commits lists them)`,
  );
}

/** The newest base backup that ended before `target` and whose archive is still there. */
function pickBase(catalog: WalCatalog, target: RecoveryTarget, context: PlanContext): CatalogBase {
  const show = (ms: number) => isoInZone(ms, context.timeZone);
  const bases = catalog.bases.filter((b) => context.archives.has(b.archive))
    .sort((a, b) => a.stoppedMs - b.stoppedMs);
  if (bases.length === 0) {
    throw new UsageError(
      `Cannot recover to a point in time from ${context.store.url()}: no base backup made with --postgres is recorded there`,
    );
  }
  if (!("time" in target)) return bases.at(-1) as CatalogBase;
  if (target.time > context.now) {
    throw new UsageError(`Cannot recover to ${show(target.time)}: it is in the future`);
  }
  const base = bases.filter((b) => b.stoppedMs <= target.time).at(-1);
  if (!base) {
    throw new UsageError(
      `Cannot recover to ${
        show(target.time)
      }: it is older than the oldest base backup, which ended at ${
        show((bases[0] as CatalogBase).stoppedMs)
      }`,
    );
  }
  return base;
}

/**
 * Picks the base and the WAL for `target` and checks that recovery can reach it; throws a
 * `UsageError` naming the bound or the missing segment when it cannot (nothing is written).
 *
 * @example
 * ```ts ignore
 * const plan = await planRecovery(catalog, { time: Date.parse("2026-12-03T14:05:00Z") }, context);
 * ```
 */
export async function planRecovery(
  catalog: WalCatalog,
  target: RecoveryTarget,
  context: PlanContext,
): Promise<RecoveryPlan> {
  if ("beforeXid" in target) {
    // Planned as the time the transaction ended, stopped by its xid.
    const time = await xidEndTime(catalog, target.beforeXid, context);
    const plan = await planRecovery(catalog, { time }, context);
    return { ...plan, stopAt: time, stopXid: target.beforeXid };
  }
  const show = (ms: number) => isoInZone(ms, context.timeZone);
  const base = pickBase(catalog, target, context);
  const { chain, switches, histories } = await timelineChain(catalog, base, context);
  const needed = neededSegments(catalog, base, chain, switches);
  const wal = [...needed.found, ...(needed.partial ? [needed.partial] : [])];
  const reach = Math.max(base.stoppedMs, ...wal.map((f) => f.storedMs));
  const plan: RecoveryPlan = {
    base,
    timelines: chain,
    files: [...histories, ...needed.found],
    ...(needed.partial ? { partial: needed.partial } : {}),
    reach,
  };
  if (needed.missing !== undefined) {
    const before = await lastEndIn(wal, context, catalog.segmentBytes);
    if (!("time" in target) || before === undefined || target.time > before) {
      throw new UsageError(
        `Cannot recover to ${
          "time" in target ? show(target.time) : "the end of the WAL"
        }: the WAL segment ${needed.missing} is missing (a gap)${
          before === undefined ? "" : `; the latest time before it is ${show(before)}`
        }`,
      );
    }
    return { ...plan, stopAt: target.time, lastEnd: before };
  }
  if (!("time" in target)) return plan;
  if (target.time > reach) {
    throw new UsageError(
      `Cannot recover to ${show(target.time)}: it is newer than the archived WAL, which reaches ${
        show(reach)
      }; give --to-time latest for all of it`,
    );
  }
  const lastEnd = await lastEndIn(wal, context, catalog.segmentBytes);
  // No transaction ended after the target: replaying all of the WAL is the same, and stops
  // where recovery can (a target past the last commit would never be reached).
  if (lastEnd === undefined || target.time >= lastEnd) {
    return { ...plan, ...(lastEnd === undefined ? {} : { lastEnd }) };
  }
  return { ...plan, stopAt: target.time, lastEnd };
}

async function writeOwned(path: string, bytes: Uint8Array, owner?: { uid: number; gid: number }) {
  await Deno.writeFile(path, bytes, { mode: 0o600 });
  await Deno.chmod(path, 0o600);
  if (owner) await Deno.chown(path, owner.uid, owner.gid);
}

/**
 * Where recovery stops: at a time, after the last whole record the WAL holds, or (no WAL
 * stored after the base yet) as soon as the base is consistent.
 */
export type RecoveryStop =
  | { time: number }
  | { lsn: bigint }
  | { immediate: true }
  | { beforeXid: number };

/** What was put in place for recovery, checked. */
export interface PlacedRecovery {
  /** Where recovery is told to stop. */
  stop: RecoveryStop;
  /** The WAL read as a chain of records from the base's start. */
  chain: WalChain;
  /** The files put into pg_wal/ (a replaced partial copy: its successor). */
  files: number;
}

/**
 * Puts the plan's WAL into the restored base in `dir` (`pg_wal/`; the partial copy padded
 * with zeros to a whole segment under its segment's name), each file's sha256 checked
 * against its sidecar first; reads what it placed as one chain of records
 * ({@linkcode readWalChain}); and only then writes `recovery.signal` and the recovery
 * settings into `postgresql.auto.conf`: to the plan's time, or else to the start of the
 * last whole record, so that PostgreSQL refuses to open short of it. Damage is a
 * {@linkcode WalDamageError} naming the file or the segment and the last good time. Files
 * get the data folder's owner.
 *
 * @example
 * ```ts ignore
 * await placeRecovery(plan, "/srv/restored", { store, identities: [], segmentBytes: 16777216, timeZone: "UTC" });
 * ```
 */
export async function placeRecovery(
  plan: RecoveryPlan,
  dir: string,
  context: {
    store: WalStore;
    identities: readonly string[];
    segmentBytes: number;
    timeZone: string;
  },
): Promise<PlacedRecovery> {
  const info = await Deno.stat(`${dir}/PG_VERSION`);
  const owner = info.uid !== null && info.gid !== null && Deno.uid() === 0
    ? { uid: info.uid, gid: info.gid }
    : undefined;
  const segments = await placeWal(plan, dir, context, owner);
  // No WAL stored after the base: the base's own WAL makes it consistent, and that is all.
  const chain = segments.length === 0
    ? { records: 0, end: plan.base.stop }
    : await readWalChain(segments, context.segmentBytes, {
      ...(plan.stopXid !== undefined
        ? { stopAtXid: plan.stopXid }
        : plan.stopAt === undefined
        ? {}
        : { stopAfter: plan.stopAt }),
    });
  const stop: RecoveryStop = segments.length === 0
    ? { immediate: true }
    : recoveryStop(plan, chain, context.timeZone);
  const auto = `${dir}/postgresql.auto.conf`;
  const before = await Deno.readTextFile(auto).catch(() => "");
  await writeOwned(auto, new TextEncoder().encode(recoverySettings(before, stop)), owner);
  await writeOwned(`${dir}/recovery.signal`, new Uint8Array(0), owner);
  return { stop, chain, files: plan.files.length + (plan.partial ? 1 : 0) };
}

/**
 * Writes the plan's WAL files into `dir/pg_wal/`, each read with its sha256 checked (a
 * replaced partial copy: its successor); returns the segments as the chain reads them back
 * from there (the partial copy without its padding).
 */
async function placeWal(
  plan: RecoveryPlan,
  dir: string,
  context: { store: WalStore; identities: readonly string[]; segmentBytes: number },
  owner: { uid: number; gid: number } | undefined,
): Promise<ChainSegment[]> {
  await Deno.mkdir(`${dir}/pg_wal`, { recursive: true, mode: 0o700 });
  const segments: ChainSegment[] = [];
  const placed = (name: string, segno: number, length?: number): ChainSegment => ({
    name,
    segno,
    load: (buffer) => readInto(`${dir}/pg_wal/${name}`, buffer, length),
  });
  for (const file of plan.files) {
    const bytes = await readWalBytes(context.store, file, context.identities);
    await writeOwned(`${dir}/pg_wal/${file.wal}`, bytes, owner);
    if (file.kind === "segment") segments.push(placed(file.wal, file.segno));
  }
  if (plan.partial) {
    const { file, bytes } = await readWalOrSuccessor(
      context.store,
      plan.partial,
      context.identities,
      context.segmentBytes,
    );
    const name = file.wal.replace(/\.partial$/, "");
    const padded = new Uint8Array(context.segmentBytes);
    padded.set(bytes.subarray(0, context.segmentBytes));
    await writeOwned(`${dir}/pg_wal/${name}`, padded, owner);
    segments.push(placed(name, file.segno, Math.min(bytes.length, context.segmentBytes)));
  }
  return segments;
}

/** The first `length` bytes of a file (all of it, up to the buffer's size) read into `buffer`. */
async function readInto(path: string, buffer: Uint8Array, length?: number): Promise<Uint8Array> {
  using file = await Deno.open(path);
  const want = Math.min(length ?? buffer.length, buffer.length);
  let filled = 0;
  while (filled < want) {
    const n = await file.read(buffer.subarray(filled, want));
    if (n === null) break;
    filled += n;
  }
  return buffer.subarray(0, filled);
}

/**
 * Where recovery must stop, given the chain read: refuses a chain that breaks before the
 * target or ends before the base is consistent.
 */
function recoveryStop(plan: RecoveryPlan, chain: WalChain, timeZone: string): RecoveryStop {
  const show = (ms: number) => isoInZone(ms, timeZone);
  if (chain.broken) {
    throw new WalDamageError(
      `Cannot recover ${
        plan.stopAt === undefined ? "to the end of the WAL" : `to ${show(plan.stopAt)}`
      }: the WAL breaks in segment ${chain.broken.segment} (${chain.broken.reason}); ${
        chain.lastTime === undefined
          ? "no transaction ended before it"
          : `the latest time before it is ${show(chain.lastTime)}`
      }`,
    );
  }
  if (chain.lastStart === undefined || chain.end < plan.base.stop) {
    throw new WalDamageError(
      `Cannot recover: the WAL ends at ${
        formatLsn(chain.end)
      }, before the base backup ${plan.base.archive} is consistent at ${formatLsn(plan.base.stop)}`,
    );
  }
  if (plan.stopXid !== undefined && chain.passedTarget) return { beforeXid: plan.stopXid };
  if (plan.stopAt !== undefined && chain.passedTarget) return { time: plan.stopAt };
  // Nothing ended after the target: all of the WAL, bound to its last whole record.
  return { lsn: chain.lastStart };
}

function targetName(stop: RecoveryStop): string {
  if ("lsn" in stop) return "recovery_target_lsn";
  if ("time" in stop) return "recovery_target_time";
  return "beforeXid" in stop ? "recovery_target_xid" : "recovery_target";
}

const BEGIN = "# backupd restore --to-time: begin";
const END = "# backupd restore --to-time: end";

/**
 * postgresql.auto.conf with the recovery settings of this restore in place of any earlier
 * ones (a base taken from a server that was itself recovered carries them): every target
 * reset, then where to stop. An LSN is the start of the last whole record, and PostgreSQL
 * compares a record's start with it: inclusive, that record is replayed too, and WAL that
 * ends before it is "recovery ended before configured recovery target was reached".
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * const once = recoverySettings("work_mem = '8MB'\n", { time: Date.UTC(2026, 11, 3, 14, 5) });
 * assertEquals(once.includes("recovery_target_time = '2026-12-03 14:05:00.000+00'"), true);
 * const again = recoverySettings(once, { lsn: 0x3000028n });
 * assertEquals(again.includes("14:05"), false);
 * assertEquals(again.includes("recovery_target_lsn = '0/3000028'"), true);
 * assertEquals(again.startsWith("work_mem = '8MB'\n"), true);
 * ```
 */
export function recoverySettings(autoConf: string, stop: RecoveryStop): string {
  const kept = autoConf.replace(new RegExp(`\\n?${BEGIN}[^]*?${END}\\n`, "g"), "\n")
    .replace(/\n+$/, "\n");
  const time = "time" in stop
    ? new Date(stop.time).toISOString().replace("T", " ").replace("Z", "+00")
    : "";
  return [
    kept.trimEnd(),
    BEGIN,
    "# The WAL is in pg_wal/ already: recovery replays it, then the server opens on a new",
    "# timeline (README: Point-in-time recovery). Used only while recovery.signal exists.",
    "restore_command = 'false'",
    "recovery_target_timeline = 'latest'",
    // Each target's hook refuses a second target set before it: the resets come first.
    "recovery_target_name = ''",
    ...[
      "recovery_target_xid = ''",
      "recovery_target = ''",
      "recovery_target_time = ''",
      "recovery_target_lsn = ''",
    ].filter((line) => !line.startsWith(`${targetName(stop)} `)),
    `${targetName(stop)} = '${
      "lsn" in stop
        ? formatLsn(stop.lsn)
        : "time" in stop
        ? time
        : "beforeXid" in stop
        ? stop.beforeXid
        : "immediate"
    }'`,
    // Just before a transaction: its commit is not replayed.
    `recovery_target_inclusive = '${"beforeXid" in stop ? "off" : "on"}'`,
    "recovery_target_action = 'promote'",
    END,
    "",
  ].join("\n");
}
