// The archive's entries packed in order, in parallel: runs of small entries go in batches
// to the pool's workers, which open, read, put in tar form and compress them; big files and
// hard-linked ones are read here, straight into the blocks the workers compress.

import type { BlockOutput, JobUnits } from "../codec/block_output.ts";
import type { CodecPool } from "../codec/codec_pool.ts";
import type { Compression } from "../store/names.ts";
import { RunError } from "../base/errors.ts";
import type { PackAnswer, PackJob } from "./pack_batch.ts";
import { type PackOptions, type PackStats, tarPacker } from "./tar_pack.ts";
import type { WalkEntry } from "./walk.ts";

/** Files up to this size go in batches. */
const SMALL_FILE = 256 * 1024;
/** A batch's tar bytes, about: under a block, so that it makes one unit. */
const BATCH_BYTES = 768 * 1024;
/** At most this many entries in a batch. */
const BATCH_ENTRIES = 2000;

/** Whether a worker can pack the entry on its own (a hard link needs the name of its first). */
function batchable(entry: WalkEntry): boolean {
  const { info } = entry;
  if (!info.isFile) return true;
  return info.size <= SMALL_FILE && (info.nlink ?? 1) <= 1;
}

/** A bound on an entry's tar bytes: header, pax records, content and padding. */
function tarBytes(entry: WalkEntry): number {
  const content = entry.info.isFile ? Math.ceil(entry.info.size / 512) * 512 : 0;
  return 1536 + 3 * entry.rel.length + content;
}

/**
 * Writes `entries` as a tar archive named `<top>/<path>` into `out`, whose units the pool's
 * workers (running pack_worker.ts) compress with `compression`; waits for the last unit.
 *
 * @example
 * ```ts ignore
 * const stats = await packParallel(listing.entries, "data", out, pool, "gzip", {});
 * ```
 */
export async function packParallel(
  entries: readonly WalkEntry[],
  top: string,
  out: BlockOutput,
  pool: CodecPool,
  compression: Compression,
  options: PackOptions = {},
): Promise<PackStats> {
  const here = tarPacker(top, out, options);
  const batched: PackStats = { entries: 0, files: 0, bytes: 0 };
  let batch: WalkEntry[] = [];
  let bytes = 0;
  const dispatch = async () => {
    if (batch.length === 0) return;
    const job = {
      op: "pack",
      entries: batch,
      top,
      compression,
      hashes: !!options.onStored,
    } as const;
    batch = [];
    bytes = 0;
    await out.job(packBatch(pool, job, options, batched));
  };
  for (const entry of entries) {
    if (options.signal?.aborted) throw options.signal.reason;
    if (batchable(entry)) {
      batch.push(entry);
      bytes += tarBytes(entry);
      if (bytes >= BATCH_BYTES || batch.length >= BATCH_ENTRIES) await dispatch();
    } else {
      await dispatch();
      await here.add(entry);
    }
  }
  await dispatch();
  const own = await here.end();
  await out.end();
  return {
    entries: own.entries + batched.entries,
    files: own.files + batched.files,
    bytes: own.bytes + batched.bytes,
  };
}

/**
 * A batch packed on a worker into the output buffer lent to it; what the batch tells
 * (counts, warnings, stored files, bytes) is told when its turn in the archive comes.
 */
function packBatch(
  pool: CodecPool,
  job: Omit<PackJob, "id" | "output">,
  options: PackOptions,
  batched: PackStats,
): (output: ArrayBuffer) => Promise<JobUnits> {
  return async (output) => {
    const message: Omit<PackJob, "id"> = { ...job, output };
    const answer = await pool.request(message, [output]) as PackAnswer;
    if ("error" in answer) {
      throw answer.runError ? new RunError(answer.error) : new Error(answer.error);
    }
    return {
      units: answer.units.map((unit) => new Uint8Array(unit.buffer, 0, unit.length)),
      inTurn: () => {
        batched.entries += answer.stats.entries;
        batched.files += answer.stats.files;
        batched.bytes += answer.stats.bytes;
        for (const warning of answer.warnings) options.onWarning?.(warning);
        for (const file of answer.stored) options.onStored?.(file);
        options.onBytes?.(answer.stats.bytes);
      },
    };
  };
}
