// A batch of small entries packed on a worker: opened, read, put in tar form and compressed
// there, so that many small files are read by all cores rather than by the one thread that
// walks. The batch's tar bytes are a run of the archive's tar stream; they become one or
// more units of their own (README: Performance).

import { BLOCK_BYTES, bufferedTarOut } from "../codec/block_output.ts";
import { compressUnit, UNIT_OVERHEAD } from "../codec/codec_jobs.ts";
import { RunError } from "../base/errors.ts";
import { loadOwnerNames, type OwnerNames } from "./owners.ts";
import { type PackStats, type PackWarning, type StoredFile, tarPacker } from "./tar_pack.ts";
import type { WalkEntry } from "./walk.ts";

/** A batch to pack: `output` is lent for the units. */
export interface PackJob {
  /** The pool's number for the job. */
  id: number;
  /** What the worker is asked to do. */
  op: "pack";
  /** The entries to pack, in order. */
  entries: WalkEntry[];
  /** The archive's top folder. */
  top: string;
  /** How the batch is compressed. */
  compression: "gzip" | "zstd";
  /** Whether to hash each file stored. */
  hashes: boolean;
  /** The buffer lent for the compressed units. */
  output: ArrayBuffer;
}

/** A packed batch: its units, the first in the lent buffer; what packing it told. */
export type PackAnswer =
  | {
    id: number;
    units: { buffer: ArrayBuffer; length: number }[];
    stats: PackStats;
    warnings: PackWarning[];
    stored: StoredFile[];
  }
  | { id: number; error: string; runError: boolean };

let block: Uint8Array<ArrayBuffer> | undefined;
let owners: Promise<OwnerNames> | undefined;

/**
 * Packs a batch into units.
 *
 * @example
 * ```ts ignore
 * const answer = await packBatch(job);
 * ```
 */
export async function packBatch(job: PackJob): Promise<PackAnswer> {
  const tarBlock = block ??= new Uint8Array(BLOCK_BYTES);
  const units = [{ buffer: job.output, length: 0 }];
  /** Compresses what the block holds into the current output, or a new one without room. */
  const out = bufferedTarOut(tarBlock, (bytes) => {
    let unit = units[units.length - 1] as { buffer: ArrayBuffer; length: number };
    if (unit.buffer.byteLength - unit.length < bytes.length + UNIT_OVERHEAD) {
      // The batch's files grew since the walk: a further buffer of this worker's.
      unit = { buffer: new ArrayBuffer(BLOCK_BYTES + UNIT_OVERHEAD), length: 0 };
      units.push(unit);
    }
    unit.length += compressUnit(job.compression, bytes, new Uint8Array(unit.buffer, unit.length));
  });
  const warnings: PackWarning[] = [];
  const stored: StoredFile[] = [];
  try {
    const packer = tarPacker(job.top, out, {
      owners: await (owners ??= loadOwnerNames()),
      onWarning: (warning) => warnings.push(warning),
      ...(job.hashes ? { onStored: (file: StoredFile) => stored.push(file) } : {}),
    });
    for (const entry of job.entries) await packer.add(entry);
    const stats = packer.stats();
    out.end();
    return { id: job.id, units, stats, warnings, stored };
  } catch (err) {
    return {
      id: job.id,
      error: err instanceof Error ? err.message : String(err),
      runError: err instanceof RunError,
    };
  }
}
