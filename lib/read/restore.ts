// `backupd restore`: extracts an archive into an empty folder with its own extractor on
// modern-tar's strict decoder, refusing every entry that would land outside that folder.

import { lchownSync, lutimesSync } from "node:fs";
import { createTarDecoder } from "modern-tar";
import type { TarHeader } from "../base/tar_header.ts";
import { fsReason, RunError } from "../base/errors.ts";
import { decompress, type TarSource } from "../codec/decompress.ts";
import { isEncryptedName } from "../store/names.ts";
import { hashFile, readSidecar } from "../store/sidecar.ts";
import { abandon, prepareTarget } from "./restore_target.ts";
import {
  includePaths,
  type Layout,
  layoutOf,
  type Made,
  safeRelative,
  throughLink,
} from "./restore_paths.ts";

/** An entry that was not restored, and why. */
export interface Refusal {
  /** The entry's name in the archive. */
  name: string;
  /** Why it was not restored. */
  reason: string;
}

/** Options of {@linkcode restoreArchive}. */
export interface RestoreOptions {
  /** Restore owners (uid/gid as stored). @default {false} */
  owners?: boolean;
  /** Told of each refused or skipped entry as it happens. */
  onRefused?: (refusal: Refusal) => void;
  /** Told when there is no sidecar to check. */
  onNoSidecar?: () => void;
  /** Told of each leftover of an interrupted restore that is removed from DIR first. */
  onLeftovers?: (path: string) => void;
  /** age identities for an encrypted archive. */
  identities?: readonly string[];
  /** How messages name the archive (a download names its address). @default {archive} */
  label?: string;
  /** The archive's sha256 when it is already known (hashed while downloaded). */
  sha256?: string;
  /** Only these files or folders (paths below the archive's top folder) are restored. */
  include?: readonly string[];
}

/** What a restore did. */
export interface RestoreResult {
  /** Entries restored. */
  restored: number;
  /** Entries refused because they would land outside DIR. */
  refused: Refusal[];
  /** Entries skipped because they cannot be restored here (devices, FIFOs). */
  skipped: Refusal[];
}

interface Deferred {
  rel: string;
  header: TarHeader;
}

// File system calls are synchronous here: a database folder is thousands of small files, and
// each async call costs Deno ~50 µs where a sync one costs a few.

async function writeBody(
  path: string,
  body: ReadableStream<Uint8Array>,
  seen: (chunk: Uint8Array) => void,
): Promise<void> {
  using file = Deno.openSync(path, { write: true, createNew: true, mode: 0o600 });
  for await (const chunk of body) {
    let rest = chunk;
    while (rest.length > 0) rest = rest.subarray(file.writeSync(rest));
    seen(chunk);
  }
}

function applyAttributes(path: string, header: TarHeader, { owners }: { owners: boolean }): void {
  const mtime = header.mtime ?? new Date(0);
  if (header.type === "symlink") {
    if (owners) lchownSync(path, header.uid ?? 0, header.gid ?? 0);
    lutimesSync(path, mtime, mtime);
    return;
  }
  // chown before chmod: chown clears setuid and setgid bits.
  if (owners) Deno.chownSync(path, header.uid ?? 0, header.gid ?? 0);
  Deno.chmodSync(path, (header.mode ?? 0o644) & 0o7777);
  Deno.utimeSync(path, mtime, mtime);
}

/**
 * Checks an archive's sha256 against its sidecar, then extracts it into `dir` (which must
 * not exist or be empty). Refused entries are named and skipped; the rest is restored.
 *
 * @example
 * ```ts ignore
 * const result = await restoreArchive("/backup/2027-01-02/01-00-00.tar.gz", "/srv/restored");
 * ```
 */
export async function restoreArchive(
  archive: string,
  dir: string,
  options: RestoreOptions = {},
): Promise<RestoreResult> {
  const label = options.label ?? archive;
  const sidecar = await readSidecar(archive);
  if ("invalid" in sidecar) throw new RunError(`Cannot restore "${label}": ${sidecar.invalid}`);
  if ("missing" in sidecar) options.onNoSidecar?.();
  else if ((options.sha256 ?? await hashFile(archive)) !== sidecar.hex) {
    throw new RunError(`Cannot restore "${label}": the sha256 does not match the sidecar`);
  }
  if (isEncryptedName(archive) && (options.identities?.length ?? 0) === 0) {
    throw new RunError(`Cannot restore "${label}": it is encrypted; give --age-identity FILE`);
  }
  using file = await Deno.open(archive);
  // A wrong age identity fails here, before DIR is touched.
  using tar = await decompress(archive, file, {
    ...(options.identities ? { identities: options.identities } : {}),
  });
  const target = await prepareTarget(dir, options);
  try {
    const result = await extract(tar, target.stage, options);
    await moveIntoPlace(target.stage, dir, result.folders, { owners: options.owners ?? false });
    return { restored: result.restored, refused: result.refused, skipped: result.skipped };
  } catch (err) {
    await abandon(dir, target);
    throw err;
  }
}

/** What extracting left to do: the folders' attributes, set once everything is in place. */
interface Extracted extends RestoreResult {
  folders: Deferred[];
}

/** Runs one file system step of an entry, naming the entry and the cause when it fails. */
function entryStep<T>(name: string, step: () => T): T {
  try {
    return step();
  } catch (err) {
    throw new RunError(`Cannot restore "${name}": ${fsReason(err)}`, { cause: err });
  }
}

async function extract(
  tar: TarSource,
  root: string,
  options: RestoreOptions,
): Promise<Extracted> {
  const extractor = new Extractor(root, options, tar.seen);
  for await (const entry of tar.stream.pipeThrough(createTarDecoder({ strict: true }))) {
    await extractor.entry(entry.header, entry.body);
    // Bodies that were not read (refusals, links, unwanted entries) are drained for the next.
    if (!entry.body.locked) await entry.body.cancel();
  }
  return extractor.finish();
}

/** Where an entry goes: its path below DIR, and what is already restored there. */
interface Place {
  rel: string;
  path: string;
  existing: "dir" | "file" | "symlink" | undefined;
}

/**
 * Restores entries one by one: first the path checks (inside DIR, not through a symlink,
 * wanted by --include), then one handler per kind of entry.
 */
class Extractor {
  readonly #root: string;
  readonly #options: RestoreOptions;
  readonly #owners: boolean;
  readonly #seen: (chunk: Uint8Array) => void;
  readonly #include: string[];
  readonly #matched = new Set<string>();
  readonly #made: Made = new Map();
  readonly #result: Extracted = { restored: 0, refused: [], skipped: [], folders: [] };
  #layout: Layout | undefined;

  constructor(root: string, options: RestoreOptions, seen: (chunk: Uint8Array) => void) {
    this.#root = root;
    this.#options = options;
    this.#owners = options.owners ?? false;
    this.#seen = seen;
    this.#include = includePaths(options.include);
  }

  /** Restores one entry, or refuses or skips it with a reason. */
  async entry(header: TarHeader, body: ReadableStream<Uint8Array>): Promise<void> {
    const place = this.#place(header);
    if (place === undefined) return;
    switch (header.type) {
      case "directory":
        return this.#folder(header, place);
      case "file":
      case "symlink":
        return await this.#fileOrSymlink(header, place, body);
      case "link":
        return this.#hardLink(header, place);
      default:
        return this.#skip(header);
    }
  }

  /** The result, once every entry is in; an --include that matched nothing fails. */
  finish(): Extracted {
    const missed = this.#include.filter((path) => !this.#matched.has(path));
    if (missed.length > 0) {
      throw new RunError(
        `Cannot restore: nothing in the archive is at ${
          missed.map((path) => `"${path}"`).join(", ")
        } (--include takes paths below the archive's top folder, as \`tar -tzf\` shows them without it)`,
      );
    }
    return this.#result;
  }

  /** Where the entry goes, its parent folders made; none when it is refused or not wanted. */
  #place(header: TarHeader): Place | undefined {
    this.#layout ??= layoutOf(header);
    const rel = safeRelative(header.name, this.#layout);
    if (typeof rel !== "string") return this.#refuse(header.name, rel.refuse);
    if (!this.#wanted(rel)) return undefined;
    const linkReason = rel === "" ? undefined : throughLink(this.#made, rel);
    if (linkReason) return this.#refuse(header.name, linkReason);
    const existing = rel === "" ? undefined : this.#made.get(rel);
    // Archives without folder entries (made with excludes, by other tools) still restore.
    const parent = rel.includes("/") ? rel.slice(0, rel.lastIndexOf("/")) : "";
    if (parent !== "" && this.#made.get(parent) !== "dir") {
      entryStep(
        header.name,
        () => Deno.mkdirSync(`${this.#root}/${parent}`, { recursive: true, mode: 0o700 }),
      );
      const parts = parent.split("/");
      for (let i = 1; i <= parts.length; i++) this.#made.set(parts.slice(0, i).join("/"), "dir");
    }
    if (existing === "symlink") return this.#refuse(header.name, "would write through a symlink");
    return { rel, path: rel === "" ? this.#root : `${this.#root}/${rel}`, existing };
  }

  /** Whether an entry is wanted: all are without --include; DIR itself always is. */
  #wanted(rel: string): boolean {
    if (this.#include.length === 0 || rel === "") return true;
    const hit = this.#include.find((path) => rel === path || rel.startsWith(`${path}/`));
    if (hit !== undefined) this.#matched.add(hit);
    return hit !== undefined;
  }

  #folder(header: TarHeader, { rel, path, existing }: Place): void {
    if (existing === undefined && rel !== "") {
      entryStep(header.name, () => Deno.mkdirSync(path, { mode: 0o700 }));
      this.#made.set(rel, "dir");
    } else if (existing !== undefined && existing !== "dir") {
      return void this.#refuse(header.name, "a file of that name is already restored");
    }
    // Its attributes are set once everything below it is in place.
    this.#result.folders.push({ rel, header });
    this.#result.restored++;
  }

  async #fileOrSymlink(
    header: TarHeader,
    { rel, path, existing }: Place,
    body: ReadableStream<Uint8Array>,
  ): Promise<void> {
    if (existing !== undefined || rel === "") {
      return void this.#refuse(header.name, "already restored under that name");
    }
    if (header.type === "file") {
      await writeBody(path, body, this.#seen).catch((err) => {
        throw new RunError(`Cannot restore "${header.name}": ${fsReason(err)}`, { cause: err });
      });
    } else entryStep(header.name, () => Deno.symlinkSync(header.linkname ?? "", path));
    this.#made.set(rel, header.type === "file" ? "file" : "symlink");
    entryStep(header.name, () => applyAttributes(path, header, { owners: this.#owners }));
    this.#result.restored++;
  }

  #hardLink(header: TarHeader, { rel, path, existing }: Place): void {
    const target = safeRelative(header.linkname ?? "", this.#layout as Layout);
    if (typeof target !== "string" || target === "") {
      return void this.#refuse(
        header.name,
        `hard link to a path outside the folder ("${header.linkname}")`,
      );
    }
    const targetReason = throughLink(this.#made, target);
    if (targetReason || this.#made.get(target) !== "file" || existing !== undefined) {
      return void this.#refuse(
        header.name,
        `hard link to "${header.linkname}", which is not a file restored here`,
      );
    }
    entryStep(header.name, () => Deno.linkSync(`${this.#root}/${target}`, path));
    this.#made.set(rel, "file");
    this.#result.restored++;
  }

  /** Devices, FIFOs and other kinds cannot be restored here: skipped, and said. */
  #skip(header: TarHeader): void {
    const skipped = {
      name: header.name,
      reason: `a ${header.type ?? "special"} entry is not restored`,
    };
    this.#result.skipped.push(skipped);
    this.#options.onRefused?.(skipped);
  }

  #refuse(name: string, reason: string): undefined {
    this.#result.refused.push({ name, reason });
    this.#options.onRefused?.({ name, reason });
    return undefined;
  }
}

/**
 * Moves what the stage holds into DIR (renames within one file system), then sets the
 * folders' attributes, deepest first: their modes may forbid writing, and moving entries
 * changed their mtimes. DIR itself gets the archive's top folder's, last.
 */
async function moveIntoPlace(
  stage: string,
  dir: string,
  folders: Deferred[],
  { owners }: { owners: boolean },
): Promise<void> {
  for (const entry of Deno.readDirSync(stage)) {
    entryStep(entry.name, () => Deno.renameSync(`${stage}/${entry.name}`, `${dir}/${entry.name}`));
  }
  await Deno.remove(stage);
  for (const folder of folders.reverse()) {
    const path = folder.rel === "" ? dir : `${dir}/${folder.rel}`;
    entryStep(folder.header.name, () => applyAttributes(path, folder.header, { owners }));
  }
}
