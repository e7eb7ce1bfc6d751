// A scratch PostgreSQL (README: Restore drills): an archive restored into a folder of its
// own in --drill-dir (room checked first), its server set up to run as the data's owner with
// no TCP listener, and the folder removed always: on failure, on SIGTERM (the server
// stopped first), and a killed run's leftovers by the next run. Drills use it.

import { statfs } from "node:fs/promises";
import { describeError, RunError } from "../base/errors.ts";
import { formatBytes } from "../base/bytes.ts";
import type { Logger } from "../base/log.ts";
import { restoreArchive } from "../read/restore.ts";
import { findPrograms } from "../postgres/pg_programs.ts";
import { ownerOf, PgProcess } from "./pg_process.ts";

/** A scratch folder is made with this prefix in --drill-dir. */
export const SCRATCH_PREFIX = "backupd-drill-scratch-";

/** Free space a scratch restore wants, as a multiple of the archive's size. */
const SPACE_FACTOR = 4;

/** The archive to restore into the scratch folder. */
export interface ScratchArchive {
  /** Its file. */
  file: string;
  /** How it is shown. */
  shown: string;
  /** age identities for an encrypted archive. */
  identities?: readonly string[];
  /** Its sha256 as taken on a download (checked against the sidecar, not read again). */
  sha256?: string;
}

/** What a scratch server needs from its surroundings. */
export interface ScratchDeps {
  /** Where events go. */
  log: Logger;
  /** SIGTERM or SIGINT: the server's programs are abandoned. */
  signal?: AbortSignal;
  /** Whether this process is root (owners are kept; the server runs as the data's owner). */
  isRoot: boolean;
}

/**
 * One scratch folder and the server on the archive restored into it. `close` stops the
 * server and removes the folder; a folder that cannot be removed is a warning, and the next
 * scratch run retries it.
 *
 * @example
 * ```ts ignore
 * const scratch = await Scratch.open("/tmp", archiveBytes, deps);
 * try { await scratch.restore(archive); const server = await scratch.server(["pg_amcheck"]); }
 * finally { await scratch.close(); }
 * ```
 */
export class Scratch {
  /** The restored data folder. */
  readonly data: string;
  #server: PgProcess | undefined;

  private constructor(readonly path: string, readonly deps: ScratchDeps) {
    this.data = `${path}/data`;
  }

  /**
   * Removes what killed runs left in `dir`, checks that it has room for an archive of
   * `archiveBytes`, and makes the scratch folder with this process's pid in it.
   */
  static async open(dir: string, archiveBytes: number, deps: ScratchDeps): Promise<Scratch> {
    await removeLeftovers(dir, deps.log);
    await checkRoom(dir, archiveBytes);
    const path = await Deno.makeTempDir({ dir, prefix: SCRATCH_PREFIX });
    await Deno.writeTextFile(`${path}/pid`, `${Deno.pid}\n`);
    return new Scratch(path, deps);
  }

  /** Restores the archive into the data folder, as `restore` does. */
  async restore(archive: ScratchArchive): Promise<void> {
    await restoreArchive(archive.file, this.data, {
      owners: this.deps.isRoot,
      ...(archive.identities ? { identities: archive.identities } : {}),
      ...(archive.sha256 ? { sha256: archive.sha256 } : {}),
      label: archive.shown,
    });
  }

  /** The restored data folder's bytes on disk. */
  restoredBytes(): Promise<number> {
    return folderBytes(this.data);
  }

  /**
   * The server of the restored folder, not yet started: the programs of its major version
   * (`--pg-bin`, else found; the server's own and `programs`), run as the data's owner.
   */
  async server(pgBin: string | undefined, programs: readonly string[]): Promise<PgProcess> {
    const major = await majorOf(this.data);
    const found = await findPrograms(pgBin, major, programs);
    const owner = await ownerOf(this.data, this.deps.isRoot);
    // The server's user must reach its folder inside the scratch folder.
    if (owner) await Deno.chmod(this.path, 0o711);
    this.#server = new PgProcess(found, this.path, owner, this.deps.signal);
    return this.#server;
  }

  /** Stops the server, if it was started, and removes the folder; never throws. */
  async close(): Promise<void> {
    await this.#server?.stop().catch((err) =>
      this.deps.log.warn("cannot stop the scratch server", { error: describeError(err) })
    );
    await Deno.remove(this.path, { recursive: true }).catch((err) =>
      this.deps.log.warn("cannot remove the scratch folder", {
        path: this.path,
        error: describeError(err),
      })
    );
  }
}

async function checkRoom(dir: string, archiveBytes: number): Promise<void> {
  let free: number;
  try {
    const fs = await statfs(dir);
    free = fs.bavail * fs.bsize;
  } catch (err) {
    throw new RunError(`Cannot run the restore drill in "${dir}": ${describeError(err)}`, {
      cause: err,
    });
  }
  const needed = archiveBytes * SPACE_FACTOR;
  if (free < needed) {
    throw new RunError(
      `Cannot run the restore drill in "${dir}": ${
        formatBytes(free)
      } free, and ${SPACE_FACTOR} x the archive is ${
        formatBytes(needed)
      } (give --drill-dir a larger folder)`,
    );
  }
}

async function majorOf(data: string): Promise<number> {
  try {
    const text = (await Deno.readTextFile(`${data}/PG_VERSION`)).trim();
    const major = Number(text.split(".")[0]);
    if (!Number.isInteger(major) || major <= 0) throw new Error(text);
    return major;
  } catch (err) {
    throw new RunError(
      "Cannot run the restore drill: the archive holds no PostgreSQL data folder (no PG_VERSION)",
      { cause: err },
    );
  }
}

async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) total += await folderBytes(path);
    else if (entry.isFile) total += (await Deno.lstat(path)).size;
  }
  return total;
}

/**
 * Removes what a killed run left in `dir`: scratch folders whose process is gone, their
 * server stopped first.
 */
async function removeLeftovers(dir: string, log: Logger): Promise<void> {
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch {
    return;
  }
  for (const entry of entries) {
    if (!entry.isDirectory || !entry.name.startsWith(SCRATCH_PREFIX)) continue;
    const scratch = `${dir}/${entry.name}`;
    // Only a folder a scratch run made (it holds the run's pid) whose run is gone.
    const pid = Number((await Deno.readTextFile(`${scratch}/pid`).catch(() => "")).trim());
    if (!(pid > 0) || alive(pid)) continue;
    await PgProcess.stopLeftover(scratch);
    await Deno.remove(scratch, { recursive: true });
    log.info("removed the scratch folder of an interrupted drill", { path: scratch });
  }
}

function alive(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}
