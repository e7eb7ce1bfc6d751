// The interop tree: every kind of name, link, mode, time and owner that an archive must
// carry, and a snapshot of a tree to compare two trees attribute by attribute.

import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { sha256File } from "./helpers.ts";

/** Entry-name lengths (with the `<top>/` prefix) that cross ustar's limits. */
export const NAME_LENGTHS = [99, 100, 101, 155, 156, 255, 256, 300];

/** A relative path whose archive entry name `<top>/<rel>` is exactly `length` bytes. */
export function pathOfLength(top: string, length: number): string {
  const head = `len${length}`;
  let rel = head;
  // Components of at most 90 bytes, so no single name exceeds a file system's 255.
  while (top.length + 1 + rel.length + 1 + 90 < length) rel += `/${"d".repeat(89)}`;
  const rest = length - (top.length + 1 + rel.length + 1);
  if (rest < 1) throw new RangeError(`Cannot make a path of ${length} bytes`);
  return `${rel}/${"f".repeat(rest)}`;
}

const T1980 = new Date("1980-01-02T03:04:05Z");
const T2100 = new Date("2100-06-07T08:09:10Z");

/**
 * Builds the interop tree in `root` (which must exist and be empty); `top` is the
 * archive's top folder name (the basename of `root`).
 */
export async function makeInteropTree(root: string, options: { owners: boolean }): Promise<void> {
  const top = root.slice(root.lastIndexOf("/") + 1);
  const write = async (rel: string, text: string, mode = 0o644) => {
    const path = `${root}/${rel}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(path, text);
    await Deno.chmod(path, mode);
  };
  for (const length of NAME_LENGTHS) {
    const rel = pathOfLength(top, length);
    await write(rel, `length ${length}\n`);
  }
  await write("names/café ünïcødé/日本語 ファイル.txt", "non-ascii\n");
  await write("names/with space/a b c.txt", "spaces\n");
  await write("names/emoji 🎉.bin", "emoji\n");
  await Deno.mkdir(`${root}/empty/nested`, { recursive: true });
  await write("modes/m0000", "no access\n", 0o000);
  await write("modes/m0600", "private\n", 0o600);
  await write("modes/m4755", "setuid\n", 0o4755);
  await Deno.mkdir(`${root}/modes/sticky1777`);
  await Deno.chmod(`${root}/modes/sticky1777`, 0o1777);
  await write("links/target.txt", "target\n");
  await Deno.symlink("target.txt", `${root}/links/relative`);
  await Deno.symlink("/etc/hostname", `${root}/links/absolute`);
  await Deno.symlink("does/not/exist", `${root}/links/dangling`);
  await Deno.symlink(`${"t".repeat(146)}.txt`, `${root}/links/long-target`);
  await write("links/hard-a", "hard linked\n");
  await Deno.link(`${root}/links/hard-a`, `${root}/links/hard-b`);
  await write("times/t1980", "old\n");
  await write("times/t2100", "future\n");
  await Deno.utime(`${root}/times/t1980`, T1980, T1980);
  await Deno.utime(`${root}/times/t2100`, T2100, T2100);
  await write("data/content.bin", "x".repeat(70_000) + "end\n");
  // More than a few compression blocks, so the archive is a multi-member gzip file.
  const random = new Uint8Array(3_500_000);
  for (let i = 0; i < random.length; i += 65536) {
    crypto.getRandomValues(random.subarray(i, i + 65536));
  }
  await Deno.writeFile(`${root}/data/random.bin`, random);
  if (options.owners) {
    await write("owners/big-ids", "big\n");
    await Deno.chown(`${root}/owners/big-ids`, 3_000_000, 3_000_000);
    await write("owners/postgres-ids", "999\n");
    await Deno.chown(`${root}/owners/postgres-ids`, 999, 999);
    await Deno.mkdir(`${root}/owners/dir999`);
    await Deno.chown(`${root}/owners/dir999`, 999, 999);
  }
  // Folder times last: creating their contents changed them.
  await Deno.utime(`${root}/empty`, T1980, T1980);
  await Deno.utime(`${root}/times`, T2100, T2100);
}

/** One path's attributes, as compared across trees. */
export interface Attrs {
  type: "file" | "dir" | "symlink" | "other";
  mode?: number;
  mtime?: number;
  uid?: number;
  gid?: number;
  size?: number;
  sha256?: string;
  target?: string;
  /** For files: the relative paths sharing its inode, sorted. */
  links?: string[];
}

/** Every path below `root` (and `""` for root itself) with its attributes. */
export async function snapshot(
  root: string,
  options: { owners: boolean },
): Promise<Map<string, Attrs>> {
  const out = new Map<string, Attrs>();
  const inodes = new Map<number, string[]>();
  const visit = async (rel: string) => {
    const path = rel === "" ? root : `${root}/${rel}`;
    const info = await Deno.lstat(path);
    const owner = options.owners ? { uid: info.uid ?? -1, gid: info.gid ?? -1 } : {};
    if (info.isSymlink) {
      out.set(rel, { type: "symlink", target: await Deno.readLink(path), ...owner });
    } else if (info.isDirectory) {
      out.set(rel, {
        type: "dir",
        mode: (info.mode ?? 0) & 0o7777,
        mtime: Math.floor((info.mtime?.getTime() ?? 0) / 1000),
        ...owner,
      });
      const names: string[] = [];
      for await (const entry of Deno.readDir(path)) names.push(entry.name);
      for (const name of names.sort()) await visit(rel === "" ? name : `${rel}/${name}`);
    } else if (info.isFile) {
      const group = inodes.get(info.ino ?? 0) ?? [];
      group.push(rel);
      inodes.set(info.ino ?? 0, group);
      out.set(rel, {
        type: "file",
        mode: (info.mode ?? 0) & 0o7777,
        mtime: Math.floor((info.mtime?.getTime() ?? 0) / 1000),
        size: info.size,
        sha256: await sha256File(path),
        links: group,
        ...owner,
      });
    } else {
      out.set(rel, { type: "other" });
    }
  };
  await visit("");
  for (const attrs of out.values()) attrs.links?.sort();
  return out;
}

/** Fails unless `actual` holds what `expected` holds, attribute by attribute, and no more. */
export async function assertSameTree(
  expected: string,
  actual: string,
  options: { owners: boolean },
): Promise<void> {
  const want = await snapshot(expected, options);
  const got = await snapshot(actual, options);
  for (const [rel, attrs] of want) deepStrictEqual(got.get(rel), attrs, `"${rel}" differs`);
  strictEqual(got.size, want.size, "the trees hold different numbers of entries");
}
