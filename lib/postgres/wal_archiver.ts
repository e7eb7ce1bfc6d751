// Continuous WAL archiving over the SQL session (README: Point-in-time recovery): each cycle
// reads the server's flush LSN, stores every whole segment below it from SOURCE/pg_wal under
// DEST/wal/ (compressed, encrypted when asked, atomically, with a sidecar), and only then
// moves the permanent replication slot past it; the segment being written is stored up to
// the flush LSN as one rolling partial copy. A segment the server no longer has is a gap:
// recorded, reported, and archiving goes on from what is there.

import { formatBytes } from "../base/bytes.ts";
import { describeError, RunError } from "../base/errors.ts";
import type { Logger } from "../base/log.ts";
import { packWal } from "../codec/wal_codec.ts";
import type { RemoteStore } from "../offsite/s3_store.ts";
import { type Compression, sidecarName } from "../store/names.ts";
import {
  formatLsn,
  historyName,
  parseHistory,
  parseSegmentName,
  parseStoredWal,
  segmentName,
  segmentStart,
  segnoOf,
  storedWalName,
} from "../store/wal_names.ts";
import { uploadWalFile, walMissingIn } from "../offsite/uploads.ts";
import {
  listWal,
  readWalState,
  removeWal,
  removeWalLeftovers,
  storeWal,
  type WalGap,
  type WalState,
  writeWalState,
} from "../store/wal_store.ts";
import type { PostgresTarget } from "../settings/postgres_settings.ts";
import { openQuerySession, type Query, type QuerySession } from "./backup_session.ts";
import { segmentProblem } from "./wal_records.ts";
import {
  advanceSlot,
  createSlot,
  type SlotState,
  slotState,
  slotWalLimit,
  type WalPosition,
  walPosition,
} from "./wal_slot.ts";

/** What the archiver is told. */
export interface ArchiverOptions {
  /** The server. */
  target: PostgresTarget;
  /** Its data folder (SOURCE): the WAL is read from its pg_wal/. */
  source: string;
  /** DEST, absolute. */
  dest: string;
  /** The replication slot's name. */
  slot: string;
  /** How stored WAL is compressed. */
  compression: Compression;
  /** age recipients; none: not encrypted. */
  recipients: readonly string[];
  /** Time between cycles, ms. */
  intervalMs: number;
  /** The slot holding more than this many bytes is a warning and unhealthy. */
  maxRetainedBytes: number;
  /** The bucket each stored file is copied to, if any. */
  remote?: RemoteStore;
}

/** What the archiver needs from its surroundings. */
export interface ArchiverDeps {
  /** Where events go. */
  log: Logger;
  /** The clock, epoch ms. */
  now: () => number;
  /** Told of a gap or a lost slot, once each, to notify the operator. */
  onProblem?: (problem: string) => Promise<void>;
  /** Told after each cycle: the state, and the segments it stored. */
  onCycle?: (state: Readonly<WalState>, segments: number) => Promise<void>;
}

/** How often the state is written when nothing but its times changed. */
const STATE_EVERY_MS = 60_000;

/** How often the rolling partial copy goes to the bucket, at most. */
const PARTIAL_UPLOAD_MS = 60_000;

/** Where the next segment to store is. */
interface Position {
  timeline: number;
  segno: number;
}

/**
 * The WAL archiver of one daemon: `cycle()` does one round; `close()` ends its session.
 *
 * @example
 * ```ts ignore
 * const archiver = await WalArchiver.open(options, { log, now: Date.now });
 * await archiver.cycle();
 * await archiver.close();
 * ```
 */
export class WalArchiver {
  readonly #options: ArchiverOptions;
  readonly #deps: ArchiverDeps;
  #state: WalState;
  #session: QuerySession | undefined;
  #lost = false;
  #next: Position | undefined;
  #restart: bigint | undefined;
  /** The partial copy stored last: its file name and the flush LSN it reaches. */
  #partial: { file: string; flush: bigint } | undefined;
  #partialUploaded = 0;
  #pendingUploads = new Set<string>();
  /** The partial copy the bucket holds, if any. */
  #remotePartial: string | undefined;
  #warnedRetained = false;
  #saidLimit = false;
  /** What was last written to wal.json (all but the times), and when. */
  #recorded = { facts: "", at: 0 };
  #buffer = new Uint8Array(0);

  private constructor(options: ArchiverOptions, deps: ArchiverDeps, state: WalState) {
    this.#options = options;
    this.#deps = deps;
    this.#state = state;
  }

  /** An archiver on DEST: its state read back, leftovers of a killed cycle removed. */
  static async open(options: ArchiverOptions, deps: ArchiverDeps): Promise<WalArchiver> {
    const before = await readWalState(options.dest).catch(() => undefined);
    for (const name of await removeWalLeftovers(options.dest)) {
      deps.log.info("removed a partial WAL file left by an interrupted cycle", { file: name });
    }
    const state: WalState = {
      segments: 0,
      lagBytes: 0,
      retainedBytes: 0,
      gaps: [],
      ...before,
      slot: options.slot,
      intervalMs: options.intervalMs,
      maxRetainedBytes: options.maxRetainedBytes,
      segmentBytes: before?.segmentBytes ?? 16 * 1024 * 1024,
    };
    delete state.problem;
    const archiver = new WalArchiver(options, deps, state);
    if (options.remote) {
      // What an earlier daemon stored but could not upload goes up with the next cycle.
      const local = await listWal(options.dest, state.segmentBytes);
      const missing = await walMissingIn(
        options.remote,
        local.filter((f) => f.kind !== "partial").map((f) => f.file),
      ).catch(() => []);
      for (const file of missing) archiver.#pendingUploads.add(file);
      // The bucket's partial copy from before: the next one sent (or its segment) replaces it.
      const partials = (await options.remote.wal().list().catch(() => []))
        .map((o) => parseStoredWal(o.file, state.segmentBytes))
        .filter((p) => p?.kind === "partial").map((p) => p?.file as string).sort();
      archiver.#remotePartial = partials.at(-1);
    }
    return archiver;
  }

  /** What the archiver has recorded. */
  get state(): Readonly<WalState> {
    return this.#state;
  }

  /**
   * One cycle; a failure is logged once (until it changes) and recorded, never thrown.
   * `signal` ends the cycle between two files: nothing is half-stored.
   */
  async cycle(signal?: AbortSignal): Promise<void> {
    const before = this.#state.segments;
    try {
      const sql = await this.#connect();
      // Caught up means: everything flushed when the position was asked for is stored.
      const asked = this.#deps.now();
      const position = await walPosition(sql);
      this.#state.lastAnswer = new Date(this.#deps.now()).toISOString();
      if (position.standby) {
        throw new RunError(
          "Cannot archive WAL: the server is a standby in recovery; give the primary",
        );
      }
      this.#state.segmentBytes = position.segmentBytes;
      const slot = await this.#slot(sql, position.timeline);
      if (this.#next?.timeline !== position.timeline) {
        this.#next = await this.#startPoint(position, slot);
      }
      await this.#storeSegments(sql, position, signal);
      if (!signal?.aborted) await this.#storePartial(position);
      if (this.#next && this.#next.segno >= segnoOf(position.flush, position.segmentBytes)) {
        this.#state.caughtUp = new Date(asked).toISOString();
      }
      await this.#uploadPending(signal);
      this.#measure(position);
      this.#clearProblem();
    } catch (err) {
      await this.#fail(err);
    } finally {
      this.#state.lastCycle = new Date(this.#deps.now()).toISOString();
      await this.#record();
      await this.#deps.onCycle?.(this.#state, this.#state.segments - before);
    }
  }

  /**
   * The state written for `health`, `list` and metrics when more than the times changed, or
   * once a minute: an idle database costs no write each interval.
   */
  async #record(): Promise<void> {
    const { lastCycle: _c, lastAnswer: _a, caughtUp: _u, ...rest } = this.#state;
    const facts = JSON.stringify(rest);
    const now = this.#deps.now();
    if (facts === this.#recorded.facts && now - this.#recorded.at < STATE_EVERY_MS) return;
    try {
      await writeWalState(this.#options.dest, this.#state);
      this.#recorded = { facts, at: now };
    } catch (err) {
      this.#deps.log.warn("cannot record the WAL archiving state", { error: describeError(err) });
    }
  }

  /** Ends the session; the slot stays. */
  async close(): Promise<void> {
    await this.#session?.close();
    this.#session = undefined;
  }

  async #connect() {
    if (this.#session && this.#lost) await this.close();
    if (!this.#session) {
      this.#lost = false;
      this.#session = await openQuerySession(this.#options.target, this.#deps.log, () => {
        this.#lost = true;
      }, "backupd wal");
      await this.#session.query`SET statement_timeout = 0`;
      await this.#checkSlotLimit(this.#session.query);
    }
    return this.#session.query;
  }

  /**
   * The server's limit on what the slot holds, read with each new session: no limit is a
   * WARN (a backupd stopped for days fills the server's disk), and so is a limit below
   * --wal-max-retained (the server drops the WAL before backupd warns). Said once a value.
   */
  async #checkSlotLimit(sql: Query): Promise<void> {
    const limit = await slotWalLimit(sql);
    const changed = limit !== this.#state.slotLimitBytes || !this.#saidLimit;
    this.#state.slotLimitBytes = limit;
    if (!changed) return;
    this.#saidLimit = true;
    const max = this.#options.maxRetainedBytes;
    if (limit === null) {
      this.#deps.log.warn(
        "the server keeps WAL for the slot without limit (max_slot_wal_keep_size = -1): if backupd stops for days, the server's pg_wal grows until its disk is full and the database stops; set max_slot_wal_keep_size on the server (10GB, say: README, Point-in-time recovery)",
        { slot: this.#options.slot },
      );
    } else if (limit < max) {
      this.#deps.log.warn(
        "the server's max_slot_wal_keep_size is below --wal-max-retained: the server drops the WAL the slot holds before backupd warns that it holds too much",
        { max_slot_wal_keep_size: formatBytes(limit), wal_max_retained: formatBytes(max) },
      );
    }
  }

  /** The slot as the server has it; created when missing (after a first start: a problem). */
  async #slot(sql: Query, timeline: number): Promise<SlotState> {
    const { slot: name } = this.#options;
    const server = this.#session?.server ?? "";
    let slot = await slotState(sql, name);
    let problem: string | undefined;
    if (slot?.walStatus === "lost" || (slot && slot.restart === undefined)) {
      await sql`SELECT pg_drop_replication_slot(${name})`;
      problem =
        `the replication slot "${name}" was lost (the server removed WAL it held, max_slot_wal_keep_size); created again: PITR is whole again from the next base backup`;
      slot = undefined;
    } else if (!slot && this.#state.lastSegment !== undefined && !this.#newServer(timeline)) {
      problem =
        `the replication slot "${name}" is gone (dropped by hand?); created again: PITR is whole again from the next base backup`;
    }
    if (!slot) {
      await createSlot(sql, name, server).catch(async (err) => {
        // A role that may not make it: said once, and sent where --notify says.
        if (describeError(err) !== this.#state.problem) {
          await this.#deps.onProblem?.(describeError(err));
        }
        throw err;
      });
      slot = await slotState(sql, name);
      if (!slot?.restart) throw new RunError(`Cannot reserve WAL with the slot "${name}"`);
      if (problem) await this.#broken(problem, slot.restart);
      else if (this.#state.lastSegment === undefined || this.#newServer(timeline)) {
        this.#deps.log.info("created the replication slot that holds the WAL until it is stored", {
          slot: name,
          server,
          timeline,
        });
      }
    }
    this.#state.slotTimeline = timeline;
    this.#restart = slot.restart;
    return slot;
  }

  /** A server on a newer timeline than the slot was seen on: a restore, with no slot yet. */
  #newServer(timeline: number): boolean {
    return this.#state.slotTimeline !== undefined && timeline > this.#state.slotTimeline;
  }

  /** Where to go on from: after the newest segment stored on this timeline, else where it began. */
  async #startPoint(position: WalPosition, slot: SlotState): Promise<Position> {
    const { timeline, segmentBytes } = position;
    const stored = await listWal(this.#options.dest, segmentBytes);
    const newest = stored.filter((f) => f.kind === "segment" && f.timeline === timeline).at(-1);
    if (newest) return { timeline, segno: newest.segno + 1 };
    if (timeline > 1) {
      const switchpoint = await this.#storeHistories(timeline);
      if (switchpoint !== undefined) return { timeline, segno: segnoOf(switchpoint, segmentBytes) };
    }
    return { timeline, segno: segnoOf(slot.restart ?? position.flush, segmentBytes) };
  }

  /** The history files of `timeline` and its parents, stored; where it branched off. */
  async #storeHistories(timeline: number): Promise<bigint | undefined> {
    let text: string;
    try {
      text = await Deno.readTextFile(`${this.#options.source}/pg_wal/${historyName(timeline)}`);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return undefined;
      throw err;
    }
    const switches = parseHistory(text);
    for (const t of [...switches.map((s) => s.parent).filter((p) => p > 1), timeline]) {
      const name = historyName(t);
      const bytes = await Deno.readFile(`${this.#options.source}/pg_wal/${name}`).catch(() =>
        undefined
      );
      if (bytes) await this.#store(name, bytes);
    }
    this.#deps.log.info("following a new timeline", {
      timeline,
      history: historyName(timeline),
    });
    return switches.at(-1)?.switchpoint;
  }

  /** Every whole segment below the flush LSN not stored yet, in order; the slot after each. */
  async #storeSegments(sql: Query, position: WalPosition, signal?: AbortSignal) {
    const { timeline, segmentBytes, flush } = position;
    const next = this.#next as Position;
    const below = segnoOf(flush, segmentBytes);
    while (next.segno < below && !signal?.aborted) {
      const name = segmentName(timeline, next.segno, segmentBytes);
      const bytes = await this.#readPrefix(name, segmentBytes);
      if (!bytes) {
        next.segno = await this.#gap(next.segno, position);
        continue;
      }
      const problem = segmentProblem(bytes, segmentStart(next.segno, segmentBytes), segmentBytes);
      if (problem) throw new RunError(`Cannot archive the WAL segment ${name}: ${problem}`);
      await this.#store(name, bytes);
      this.#state.lastSegment = name;
      this.#state.segments++;
      if (this.#partial && this.#partial.file.startsWith(name)) {
        await removeWal(this.#options.dest, this.#partial.file);
        this.#partial = undefined;
      }
      next.segno++;
      const after = segmentStart(next.segno, segmentBytes);
      if (this.#restart === undefined || after > this.#restart) {
        await advanceSlot(sql, this.#options.slot, after);
        this.#restart = after;
      }
    }
  }

  /** The first `bytes` of a WAL file in SOURCE/pg_wal, in the reused buffer; none when it is gone. */
  async #readPrefix(name: string, bytes: number): Promise<Uint8Array | undefined> {
    if (this.#buffer.length < bytes) this.#buffer = new Uint8Array(bytes);
    let file: Deno.FsFile;
    try {
      file = await Deno.open(`${this.#options.source}/pg_wal/${name}`);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return undefined;
      throw err;
    }
    using _ = file;
    const view = this.#buffer.subarray(0, bytes);
    let filled = 0;
    while (filled < bytes) {
      const n = await file.read(view.subarray(filled));
      if (n === null) {
        throw new RunError(
          `Cannot archive the WAL file ${name}: it holds ${filled} bytes, not ${bytes}`,
        );
      }
      filled += n;
    }
    return view;
  }

  /**
   * A segment the server no longer has: the gap up to the first segment it still has on this
   * timeline is recorded and reported; returns where archiving goes on.
   */
  async #gap(missing: number, position: WalPosition): Promise<number> {
    const { timeline, segmentBytes, flush } = position;
    let resume = segnoOf(flush, segmentBytes);
    for await (const entry of Deno.readDir(`${this.#options.source}/pg_wal`)) {
      const id = parseSegmentName(entry.name, segmentBytes);
      if (id?.timeline === timeline && id.segno > missing && id.segno < resume) resume = id.segno;
    }
    const gap: WalGap = {
      from: segmentName(timeline, missing, segmentBytes),
      to: segmentName(timeline, resume - 1, segmentBytes),
      found: new Date(this.#deps.now()).toISOString(),
    };
    this.#state.gaps.push(gap);
    await this.#broken(
      `WAL segments ${gap.from} to ${gap.to} are gone from the server before they were stored: a gap; PITR is whole again from the next base backup`,
      segmentStart(resume, segmentBytes),
    );
    return resume;
  }

  /** The segment being written, stored up to the flush LSN, replacing the last copy. */
  async #storePartial(position: WalPosition): Promise<void> {
    const { timeline, segmentBytes, flush } = position;
    const segno = segnoOf(flush, segmentBytes);
    const length = Number(flush - segmentStart(segno, segmentBytes));
    if (this.#partial?.flush === flush || length === 0) return;
    if ((this.#next?.segno ?? 0) < segno) return;
    const name = segmentName(timeline, segno, segmentBytes);
    const bytes = await this.#readPrefix(name, length);
    if (!bytes) return;
    if (segmentProblem(bytes, segmentStart(segno, segmentBytes), segmentBytes)) return;
    const file = await this.#store(`${name}.partial`, bytes, { upload: false });
    const previous = this.#partial?.file;
    this.#partial = { file, flush };
    if (previous && previous !== file) await removeWal(this.#options.dest, previous);
    if (this.#options.remote && this.#deps.now() - this.#partialUploaded >= PARTIAL_UPLOAD_MS) {
      this.#pendingUploads.add(file);
      this.#partialUploaded = this.#deps.now();
    }
  }

  /** Packs and stores one file under DEST/wal/; queued for the bucket. Its stored name. */
  async #store(wal: string, bytes: Uint8Array, { upload = true } = {}): Promise<string> {
    const { compression, recipients, dest } = this.#options;
    const packed = await packWal(bytes, compression, recipients);
    const file = storedWalName(wal, compression, recipients.length > 0);
    await storeWal(dest, file, packed, this.#deps.now());
    this.#state.lastArchived = new Date(this.#deps.now()).toISOString();
    if (upload && this.#options.remote) this.#pendingUploads.add(file);
    return file;
  }

  /** Copies what is queued to the bucket; what fails stays queued for the next cycle. */
  async #uploadPending(signal?: AbortSignal): Promise<void> {
    const remote = this.#options.remote;
    if (!remote) return;
    for (const file of [...this.#pendingUploads]) {
      if (signal?.aborted) return;
      try {
        await uploadWalFile(remote, this.#options.dest, file, signal);
      } catch (err) {
        // Replaced meanwhile (a partial copy): the newer one is queued when due.
        if (err instanceof Deno.errors.NotFound) this.#pendingUploads.delete(file);
        else throw err;
        continue;
      }
      this.#pendingUploads.delete(file);
      await this.#supersedeRemotePartial(remote, file);
    }
  }

  /**
   * The bucket keeps one partial copy: the one just sent, or none once its segment is there
   * whole. The previous one is removed after its successor is in the bucket.
   */
  async #supersedeRemotePartial(remote: RemoteStore, sent: string): Promise<void> {
    const previous = this.#remotePartial;
    const parsed = parseStoredWal(sent, this.#state.segmentBytes);
    if (parsed?.kind === "partial") this.#remotePartial = sent;
    else if (parsed?.kind !== "segment" || !previous?.startsWith(parsed.wal)) return;
    else this.#remotePartial = undefined;
    if (previous && previous !== sent) {
      await remote.wal().remove(previous);
      await remote.wal().remove(sidecarName(previous));
    }
  }

  /** Lag and what the slot holds, and the warning when it holds too much. */
  #measure(position: WalPosition): void {
    const stored = this.#partial?.flush ??
      segmentStart(this.#next?.segno ?? 0, position.segmentBytes);
    this.#state.lagBytes = Math.max(0, Number(position.insert - stored));
    this.#state.retainedBytes = Math.max(
      0,
      Number(position.insert - (this.#restart ?? position.insert)),
    );
    const over = this.#state.retainedBytes > this.#options.maxRetainedBytes;
    if (over && !this.#warnedRetained) {
      this.#deps.log.warn(
        "the replication slot holds more WAL on the server than --wal-max-retained",
        {
          slot: this.#options.slot,
          retained_bytes: this.#state.retainedBytes,
          max: this.#options.maxRetainedBytes,
        },
      );
    }
    this.#warnedRetained = over;
  }

  /**
   * PITR broken up to `whole`, the WAL position from which it is whole again: recorded
   * until a base backup that starts there or later, one ERROR, notified.
   */
  async #broken(problem: string, whole: bigint): Promise<void> {
    this.#state.brokenSince = new Date(this.#deps.now()).toISOString();
    this.#state.wholeFrom = formatLsn(whole);
    this.#deps.log.error(problem, { slot: this.#options.slot });
    await this.#deps.onProblem?.(problem);
  }

  #clearProblem(): void {
    if (this.#state.problem === undefined) return;
    this.#deps.log.info("WAL archiving works again");
    delete this.#state.problem;
  }

  async #fail(err: unknown): Promise<void> {
    const problem = describeError(err);
    if (problem !== this.#state.problem) {
      this.#deps.log.error("WAL archiving failed; trying again each interval", { error: problem });
    }
    this.#state.problem = problem;
    if (this.#lost) await this.close().catch(() => undefined);
  }
}

/**
 * Archives WAL every interval until `signal` is aborted; the cycle going then ends cleanly.
 *
 * @example
 * ```ts ignore
 * await archiveWal(options, { log, now: Date.now }, stop.signal, (ms, s) => clock.sleep(ms, s));
 * ```
 */
export async function archiveWal(
  options: ArchiverOptions,
  deps: ArchiverDeps,
  signal: AbortSignal,
  sleep: (ms: number, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const archiver = await WalArchiver.open(options, deps);
  try {
    while (!signal.aborted) {
      await archiver.cycle(signal);
      await sleep(options.intervalMs, signal);
    }
  } finally {
    await archiver.close();
  }
}
