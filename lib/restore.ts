// `backupd restore`: extracts an archive into an empty folder with its own extractor on
// modern-tar's strict decoder, refusing every entry that would land outside that folder.

import { lchownSync, lutimesSync } from "node:fs";
import { createTarDecoder, type TarHeader } from "modern-tar";
import { RunError } from "./errors.ts";
import { decompress } from "./decompress.ts";
import { isEncryptedName } from "./names.ts";
import { statIfPresent } from "./present.ts";
import { hashFile, readSidecar } from "./sidecar.ts";

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
  /** age identities for an encrypted archive. */
  identities?: readonly string[];
  /** How messages name the archive (a download names its address). @default {archive} */
  label?: string;
  /** The archive's sha256 when it is already known (hashed while downloaded). */
  sha256?: string;
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
  path: string;
  header: TarHeader;
}

/** The path below DIR an entry name stands for, or why it is refused. */
function safeRelative(name: string): string | { refuse: string } {
  if (name.startsWith("/")) return { refuse: "absolute name" };
  if (name.includes("\0")) return { refuse: "NUL in name" };
  const parts = name.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) return { refuse: '".." in name' };
  // The first component is SOURCE's own folder (`data/`): its contents go into DIR.
  return parts.slice(1).join("/");
}

/** What this restore made in DIR, by relative path. DIR starts empty, so this is all of it. */
type Made = Map<string, "dir" | "file" | "symlink">;

/** Refuses a path whose parent folders are anything but folders this restore made. */
function throughLink(made: Made, rel: string): string | undefined {
  const parts = rel.split("/");
  for (let i = 1; i < parts.length; i++) {
    const parent = parts.slice(0, i).join("/");
    const kind = made.get(parent);
    if (kind === "symlink") return `would write through the symlink "${parent}"`;
    if (kind === "file") return `"${parent}" is not a folder`;
  }
  return undefined;
}

/**
 * Throws a `RunError` unless `dir` is absent or an empty folder; changes nothing.
 *
 * @example
 * ```ts
 * await checkRestoreTarget("/srv/pgdata");
 * ```
 */
export async function checkRestoreTarget(dir: string): Promise<void> {
  const info = await statIfPresent(dir);
  if (info === undefined) return;
  if (!info.isDirectory) throw new RunError(`Cannot restore into "${dir}": not a folder`);
  for await (const _ of Deno.readDir(dir)) {
    throw new RunError(`Cannot restore into "${dir}": not empty`);
  }
}

async function checkEmptyTarget(dir: string): Promise<void> {
  await checkRestoreTarget(dir);
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
}

// File system calls are synchronous here: a database folder is thousands of small files, and
// each async call costs Deno ~50 µs where a sync one costs a few.

async function writeBody(path: string, body: ReadableStream<Uint8Array>): Promise<void> {
  using file = Deno.openSync(path, { write: true, createNew: true, mode: 0o600 });
  for await (const chunk of body) {
    let rest = chunk;
    while (rest.length > 0) rest = rest.subarray(file.writeSync(rest));
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
 * ```ts
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
  await checkEmptyTarget(dir);

  const owners = options.owners ?? false;
  const result: RestoreResult = { restored: 0, refused: [], skipped: [] };
  const folders: Deferred[] = [];
  const made: Made = new Map();
  const refuse = (name: string, reason: string) => {
    result.refused.push({ name, reason });
    options.onRefused?.({ name, reason });
  };

  const entries = tar.stream.pipeThrough(createTarDecoder({ strict: true }));
  for await (const entry of entries) {
    const { header } = entry;
    const rel = safeRelative(header.name);
    if (typeof rel !== "string") {
      refuse(header.name, rel.refuse);
      await entry.body.cancel();
      continue;
    }
    const path = rel === "" ? dir : `${dir}/${rel}`;
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
      Deno.mkdirSync(`${dir}/${parent}`, { recursive: true, mode: 0o700 });
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
          Deno.mkdirSync(path, { mode: 0o700 });
          made.set(rel, "dir");
        } else if (existing !== undefined && existing !== "dir") {
          refuse(header.name, "a file of that name is already restored");
          break;
        }
        folders.push({ path, header });
        result.restored++;
        break;
      case "file":
      case "symlink":
        if (existing !== undefined || rel === "") {
          refuse(header.name, "already restored under that name");
          break;
        }
        if (header.type === "file") await writeBody(path, entry.body);
        else Deno.symlinkSync(header.linkname ?? "", path);
        made.set(rel, header.type);
        applyAttributes(path, header, owners);
        result.restored++;
        break;
      case "link": {
        const target = safeRelative(header.linkname ?? "");
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
        Deno.linkSync(`${dir}/${target}`, path);
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
  // Folders last, deepest first: their modes may forbid writing, and writing inside them
  // changed their mtimes.
  for (const folder of folders.reverse()) applyAttributes(folder.path, folder.header, owners);
  return result;
}
