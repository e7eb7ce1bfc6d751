// The small JSON files under DEST/.backupd (status, daemon, quiesced containers): read as
// absent when missing, and written whole through a rename so no reader sees half of one.

/**
 * Reads a JSON state file; `undefined` when there is none.
 *
 * @example
 * ```ts
 * const last = await readStateFile<{ result: string }>("/backup/.backupd/status.json");
 * ```
 */
export async function readStateFile<T>(path: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new Error(`Cannot read "${path}": not valid JSON`, { cause: err });
  }
}

/**
 * Writes a JSON state file atomically (owner-only).
 *
 * @example
 * ```ts
 * await writeStateFile("/backup/.backupd/status.json", { result: "ok" });
 * ```
 */
export async function writeStateFile(path: string, value: unknown): Promise<void> {
  const temp = `${path}.tmp-${Deno.pid}`;
  await Deno.writeTextFile(temp, JSON.stringify(value, null, 2) + "\n", { mode: 0o600 });
  await Deno.rename(temp, path);
}
