// The nearest names to a mistyped one (a command, a table), for the line that says it is
// unknown: edits counted as people make them (a swap of two letters is one).

/** Edits (insert, delete, change, swap two) between two words. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) (d[0] as number[])[j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i] as number[];
      const up = d[i - 1] as number[];
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(
        (up[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (up[j - 1] as number) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        row[j] = Math.min(row[j] as number, ((d[i - 2] as number[])[j - 2] as number) + 1);
      }
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}

/**
 * The name nearest to a mistyped one, if any is near enough (a third of its letters).
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * const names = ["now", "run", "restore", "list"];
 * assertEquals(nearestName("nwo", names), "now");
 * assertEquals(nearestName("restroe", names), "restore");
 * assertEquals(nearestName("backup", names), undefined);
 * ```
 */
export function nearestName(word: string, names: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const name of names) {
    const d = distance(word, name);
    if (d < bestDistance) [best, bestDistance] = [name, d];
  }
  return bestDistance <= Math.max(1, Math.floor((best?.length ?? 0) / 3)) ? best : undefined;
}

/**
 * Up to `most` names nearest to a mistyped one, nearest first, of those near enough (half of
 * the word's letters): what a line saying "no such table" offers instead.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * const tables = ["public.employees", "public.departments", "audit.employees_log"];
 * assertEquals(nearestNames("public.employes", tables), ["public.employees"]);
 * assertEquals(nearestNames("public.xyz", tables), []);
 * ```
 */
export function nearestNames(word: string, names: readonly string[], most = 3): string[] {
  return names.map((name) => ({ name, d: distance(word, name) }))
    .filter(({ d }) => d <= Math.max(1, Math.floor(word.length / 2)))
    .sort((a, b) => a.d - b.d || (a.name < b.name ? -1 : 1))
    .slice(0, most).map(({ name }) => name);
}
