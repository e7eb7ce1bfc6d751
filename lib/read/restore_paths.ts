// Where each entry of an archive lands in DIR, or why it may not: names are made relative,
// `..`, absolute names and paths through symlinks refused, `--include` paths matched.

import type { TarHeader } from "../base/tar_header.ts";

/** Where an archive's entries start: below a top folder (`data/...`), or right away (`./...`). */
export type Layout = { strip: 0 | 1 };

/**
 * The layout an archive's first entry shows: backupd's archives and `tar -czf X /data/` put
 * everything below one top folder, which DIR stands for; `tar -C /data -czf X .` (GNU tar,
 * bsdtar) starts with `./`, and an archive of loose files with a file.
 */
export function layoutOf(first: TarHeader): Layout {
  const parts = first.name.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.length === 0) return { strip: 0 };
  if (parts.length === 1 && first.type !== "directory") return { strip: 0 };
  return { strip: 1 };
}

/** The path below DIR an entry name stands for, or why it is refused. */
export function safeRelative(name: string, layout: Layout): string | { refuse: string } {
  if (name.startsWith("/")) return { refuse: "absolute name" };
  if (name.includes("\0")) return { refuse: "NUL in name" };
  const parts = name.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) return { refuse: '".." in name' };
  return parts.slice(layout.strip).join("/");
}

/** What this restore made in DIR, by relative path. DIR starts empty, so this is all of it. */
export type Made = Map<string, "dir" | "file" | "symlink">;

/** Refuses a path whose parent folders are anything but folders this restore made. */
export function throughLink(made: Made, rel: string): string | undefined {
  const parts = rel.split("/");
  for (let i = 1; i < parts.length; i++) {
    const parent = parts.slice(0, i).join("/");
    const kind = made.get(parent);
    if (kind === "symlink") return `would write through the symlink "${parent}"`;
    if (kind === "file") return `"${parent}" is not a folder`;
  }
  return undefined;
}

/** `--include` paths as entries name them below the top folder: no `./`, no end `/`. */
export function includePaths(include: readonly string[] | undefined): string[] {
  return (include ?? []).map((path) =>
    path.split("/").filter((part) => part !== "" && part !== ".").join("/")
  );
}
