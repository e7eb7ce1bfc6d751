// Carries out a retention plan under DEST: removes each archive the policy gives up, with
// its sidecar, and date folders left empty. Files backupd did not write are never touched.

import { removeIfPresent } from "./atomic_file.ts";
import { type ArchiveName, sidecarName } from "./names.ts";
import { applyPolicy, type PolicyResult } from "./retention.ts";
import type { KeepPolicy } from "./retention.ts";
import { listArchives } from "./local_store.ts";

/**
 * Whether any retention rule is set.
 *
 * @example
 * ```ts ignore
 * hasRules({}); // false
 * ```
 */
export function hasRules(policy: KeepPolicy): boolean {
  return Object.values(policy).some((n) => n !== undefined);
}

async function removeFolderIfEmpty(dir: string): Promise<boolean> {
  for await (const _ of Deno.readDir(dir)) return false;
  await Deno.remove(dir);
  return true;
}

/** Options of {@linkcode pruneArchives}. */
export interface PruneOptions {
  /** Plan only; remove nothing. */
  dryRun: boolean;
  /** Removes one file (an archive or its sidecar) by its path relative to the store. */
  remove: (path: string) => Promise<void>;
}

/**
 * Plans retention over `archives` (of any store: DEST, a bucket) and, unless `dryRun`,
 * removes each archive the plan gives up, with its sidecar.
 *
 * @example
 * ```ts ignore
 * const plan = await pruneArchives(await store.list(), { last: 7 }, {
 *   dryRun: false,
 *   remove: (path) => store.remove(path),
 * });
 * ```
 */
export async function pruneArchives(
  archives: readonly ArchiveName[],
  policy: KeepPolicy,
  options: PruneOptions,
): Promise<PolicyResult> {
  const plan = applyPolicy(archives, policy);
  if (options.dryRun) return plan;
  for (const path of plan.remove) {
    await options.remove(path);
    await options.remove(sidecarName(path));
  }
  return plan;
}

/**
 * Plans retention for DEST and, unless `dryRun`, removes what the plan gives up and the
 * date folders it leaves empty.
 *
 * @example
 * ```ts ignore
 * const plan = await prune("/backup", { last: 7 }, { dryRun: true });
 * ```
 */
export async function prune(
  dest: string,
  policy: KeepPolicy,
  options: { dryRun: boolean },
): Promise<PolicyResult> {
  const plan = await pruneArchives(await listArchives(dest), policy, {
    dryRun: options.dryRun,
    remove: (path) => removeIfPresent(`${dest}/${path}`),
  });
  if (options.dryRun) return plan;
  const days = new Set(plan.remove.map((path) => path.slice(0, path.indexOf("/"))));
  for (const day of days) await removeFolderIfEmpty(`${dest}/${day}`);
  return plan;
}
