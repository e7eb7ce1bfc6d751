// Carries out a retention plan under DEST: removes each archive the policy gives up, with
// its sidecar, and date folders left empty. Files backupd did not write are never touched.

import { removeIfPresent } from "./atomic_file.ts";
import { sidecarName } from "./names.ts";
import { applyPolicy, type PolicyResult } from "./retention.ts";
import type { KeepPolicy } from "./settings.ts";
import { listArchives } from "./store.ts";

/**
 * Whether any retention rule is set.
 *
 * @example
 * ```ts
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

/**
 * Plans retention for DEST and, unless `dryRun`, removes what the plan gives up.
 *
 * @example
 * ```ts
 * const plan = await prune("/backup", { keepLast: 7 }, { dryRun: true });
 * ```
 */
export async function prune(
  dest: string,
  policy: KeepPolicy,
  options: { dryRun: boolean },
): Promise<PolicyResult> {
  const plan = applyPolicy(await listArchives(dest), policy);
  if (options.dryRun) return plan;
  const days = new Set<string>();
  for (const path of plan.remove) {
    await removeIfPresent(`${dest}/${path}`);
    await removeIfPresent(`${dest}/${sidecarName(path)}`);
    days.add(path.slice(0, path.indexOf("/")));
  }
  for (const day of days) await removeFolderIfEmpty(`${dest}/${day}`);
  return plan;
}
