// Rows of cells as the commands print them: each column but the last padded to its widest
// cell, two spaces between columns.

/**
 * The rows as lines of aligned columns, each line ending in a newline.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(formatTable([["NAME", "SIZE", "WHERE"], ["a.tar.gz", "1.5 KiB", "local"]]),
 *   "NAME      SIZE     WHERE\na.tar.gz  1.5 KiB  local\n");
 * ```
 */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const columns = Math.max(0, ...rows.map((row) => row.length));
  const widths = Array.from(
    { length: columns },
    (_, col) => Math.max(...rows.map((row) => (row[col] ?? "").length)),
  );
  return rows.map((row) =>
    `${
      row.map((cell, col) => col === columns - 1 ? cell : cell.padEnd(widths[col] ?? 0)).join("  ")
    }\n`
  ).join("");
}
