// `backupd restore`: extracts an archive into an empty folder with its own extractor on
// modern-tar's strict decoder, refusing every entry that would land outside that folder.

import { lchownSync, lutimesSync } from "node:fs";
import { createTarDecoder, type TarHeader } from "modern-tar";
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
  name: string;
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

function applyAttributes(path: string, header: TarHeader, owners: boolean): void {
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
    await moveIntoPlace(target.stage, dir, result.folders, options.owners ?? false);
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
  const owners = options.owners ?? false;
  const include = includePaths(options.include);
  const matched = new Set<string>();
  /** Whether an entry is wanted: all are without --include; DIR itself always is. */
  const wanted = (rel: string) => {
    if (include.length === 0 || rel === "") return true;
    const hit = include.find((path) => rel === path || rel.startsWith(`${path}/`));
    if (hit !== undefined) matched.add(hit);
    return hit !== undefined;
  };
  const result: Extracted = { restored: 0, refused: [], skipped: [], folders: [] };
  const made: Made = new Map();
  const refuse = (name: string, reason: string) => {
    result.refused.push({ name, reason });
    options.onRefused?.({ name, reason });
  };
  let layout: Layout | undefined;

  const entries = tar.stream.pipeThrough(createTarDecoder({ strict: true }));
  for await (const entry of entries) {
    const { header } = entry;
    layout ??= layoutOf(header);
    const rel = safeRelative(header.name, layout);
    if (typeof rel !== "string") {
      refuse(header.name, rel.refuse);
      await entry.body.cancel();
      continue;
    }
    if (!wanted(rel)) {
      await entry.body.cancel();
      continue;
    }
    const path = rel === "" ? root : `${root}/${rel}`;
    const linkReason = rel === "" ? undefined : throughLink(made, rel);
    if (linkReason) {
      refuse(header.name, linkReason);
      await entry.body.cancel();
      continue;
    }
    const existing = rel === "" ? undefined : made.get(rel);
    // Archives without folder entries (made with excludes, by other tools) still restore.
    const parent = rel.includes("/") ? rel.slice(0, rel.lastIndexOf("/")) : "";
    if (parent !== "" && made.get(parent) !== "dir") {
      entryStep(
        header.name,
        () => Deno.mkdirSync(`${root}/${parent}`, { recursive: true, mode: 0o700 }),
      );
      const parts = parent.split("/");
      for (let i = 1; i <= parts.length; i++) made.set(parts.slice(0, i).join("/"), "dir");
    }
    if (existing === "symlink") {
      refuse(header.name, "would write through a symlink");
      await entry.body.cancel();
      continue;
    }
    switch (header.type) {
      case "directory":
        if (existing === undefined && rel !== "") {
          entryStep(header.name, () => Deno.mkdirSync(path, { mode: 0o700 }));
          made.set(rel, "dir");
        } else if (existing !== undefined && existing !== "dir") {
          refuse(header.name, "a file of that name is already restored");
          break;
        }
        result.folders.push({ rel, header });
        result.restored++;
        break;
      case "file":
      case "symlink":
        if (existing !== undefined || rel === "") {
          refuse(header.name, "already restored under that name");
          break;
        }
        if (header.type === "file") {
          await writeBody(path, entry.body, tar.seen).catch((err) => {
            throw new RunError(`Cannot restore "${header.name}": ${fsReason(err)}`, {
              cause: err,
            });
          });
        } else entryStep(header.name, () => Deno.symlinkSync(header.linkname ?? "", path));
        made.set(rel, header.type);
        entryStep(header.name, () => applyAttributes(path, header, owners));
        result.restored++;
        break;
      case "link": {
        const target = safeRelative(header.linkname ?? "", layout);
        if (typeof target !== "string" || target === "") {
          refuse(header.name, `hard link to a path outside the folder ("${header.linkname}")`);
          break;
        }
        const targetReason = throughLink(made, target);
        if (targetReason || made.get(target) !== "file" || existing !== undefined) {
          refuse(
            header.name,
            `hard link to "${header.linkname}", which is not a file restored here`,
          );
          break;
        }
        entryStep(header.name, () => Deno.linkSync(`${root}/${target}`, path));
        made.set(rel, "file");
        result.restored++;
        break;
      }
      default: {
        const skipped = {
          name: header.name,
          reason: `a ${header.type ?? "special"} entry is not restored`,
        };
        result.skipped.push(skipped);
        options.onRefused?.(skipped);
      }
    }
    // Bodies that were not read (refusals, links) must be drained for the next entry.
    if (!entry.body.locked) await entry.body.cancel();
  }
  const missed = include.filter((path) => !matched.has(path));
  if (missed.length > 0) {
    throw new RunError(
      `Cannot restore: nothing in the archive is at ${
        missed.map((path) => `"${path}"`).join(", ")
      } (--include takes paths below the archive's top folder, as \`tar -tzf\` shows them without it)`,
    );
  }
  return result;
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
  owners: boolean,
): Promise<void> {
  for (const entry of Deno.readDirSync(stage)) {
    entryStep(entry.name, () => Deno.renameSync(`${stage}/${entry.name}`, `${dir}/${entry.name}`));
  }
  await Deno.remove(stage);
  for (const folder of folders.reverse()) {
    const path = folder.rel === "" ? dir : `${dir}/${folder.rel}`;
    entryStep(folder.header.name, () => applyAttributes(path, folder.header, owners));
  }
}
