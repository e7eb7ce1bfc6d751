// Looking at a path that may not be there: its stat, or `undefined` when nothing is there.
// Every other failure (permission denied, I/O) is thrown as it came.

/**
 * The lstat of `path` (its stat, following a symlink, with `follow`), or `undefined` when
 * there is nothing at `path`.
 *
 * @example
 * ```ts ignore
 * const info = await statIfPresent("/backup/.backupd/lock");
 * if (info === undefined) console.log("no lock file");
 * ```
 */
export async function statIfPresent(
  path: string,
  options: { follow?: boolean } = {},
): Promise<Deno.FileInfo | undefined> {
  try {
    return options.follow ? await Deno.stat(path) : await Deno.lstat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
}
