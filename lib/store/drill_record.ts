// Restore drills' results under DEST/.backupd/drills.json (README: Restore drills): the
// last drill, and when each archive last passed one, for `list`, `health` and metrics.

import { readStateFile, stateDirOf, writeStateFile } from "./state_file.ts";

/** What drills.json holds. */
export interface DrillRecord {
  /** The last drill: its result, archive, times, RTO and what failed. */
  last?: {
    result: "passed" | "failed" | "error";
    archive: string;
    started: string;
    ended: string;
    rtoSeconds?: number;
    seconds: number;
    problem?: string;
  };
  /** When each archive (its path relative to DEST, or its address) last passed, ISO 8601. */
  passed: Record<string, string>;
}

const FILE = "drills.json";

/**
 * The drills' record of DEST; an empty one before the first drill.
 *
 * @example
 * ```ts ignore
 * const record = await readDrillRecord("/backup");
 * ```
 */
export async function readDrillRecord(dest: string): Promise<DrillRecord> {
  return (await readStateFile<DrillRecord>(`${stateDirOf(dest)}/${FILE}`)) ?? { passed: {} };
}

/**
 * Records a drill: the last one, and the archive's pass when it passed.
 *
 * @example
 * ```ts ignore
 * await recordDrill("/backup", { result: "passed", archive: "2026-12-03/01-00-00.tar.gz", ... });
 * ```
 */
export async function recordDrill(
  dest: string,
  last: NonNullable<DrillRecord["last"]>,
): Promise<void> {
  const record = await readDrillRecord(dest).catch(() => ({ passed: {} }) as DrillRecord);
  const passed = last.result === "passed"
    ? { ...record.passed, [last.archive]: last.ended }
    : record.passed;
  await Deno.mkdir(stateDirOf(dest), { recursive: true, mode: 0o700 });
  await writeStateFile(`${stateDirOf(dest)}/${FILE}`, { last, passed });
}
