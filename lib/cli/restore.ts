// `backupd restore`: an archive from DEST, a path or the bucket, checked and extracted
// safely into DIR.

import { basename, dirname, resolve } from "node:path";
import { EXIT, fsReason, RunError } from "../base/errors.ts";
import { sidecarName } from "../store/names.ts";
import { writePartial } from "../store/atomic_file.ts";
import { restoreArchive } from "../read/restore.ts";
import { checkRestoreTarget } from "../read/restore_target.ts";
import type { Settings } from "../settings/settings.ts";
import { BUCKET_SETTINGS, type Command, type CommandIo } from "./command.ts";
import { identitiesOf, locate, remoteArchiveAt } from "./find_archive.ts";

/**
 * `backupd restore ARCHIVE --to DIR [--include PATH...]`: exit 2 when an entry was refused,
 * 1 for warnings.
 */
export const restoreCommand: Command = {
  name: "restore",
  description: "extract an archive safely into DIR, which must not exist or be empty",
  settings: ["dest", "logFormat", ...BUCKET_SETTINGS, "ageIdentity"],
  operands: { spec: "<archive>", help: "archive path, name relative to DEST, or s3:// address" },
  options: {
    to: { flag: "--to <dir>", help: "folder to restore into", required: true },
    include: {
      flag: "--include <path>",
      help: "restore only this file or folder (a path below the archive's top folder); repeatable",
      repeatable: true,
    },
  },
  async run(ctx) {
    const name = ctx.operands[0] ?? "";
    const to = String(ctx.options.to ?? "");
    const include = (ctx.options.include ?? []) as string[];
    if (name.startsWith("s3://")) return await restoreRemote(ctx.settings, name, to, ctx, include);
    const archive = await locate(resolve(ctx.settings.dest), name);
    return await restoreLocal(ctx.settings, archive, to, ctx, include);
  },
};

/**
 * Downloads an archive and its sidecar from the bucket into a hidden folder beside DIR,
 * restores from there (the sha256 is checked before anything is written), and removes them.
 */
async function restoreRemote(
  settings: Settings,
  url: string,
  to: string,
  io: CommandIo,
  include: readonly string[],
): Promise<number> {
  const { store, path } = await remoteArchiveAt(settings, url);
  const target = resolve(to);
  // A folder that cannot take the restore is refused before the download, not after.
  await checkRestoreTarget(target);
  let download: string;
  try {
    await Deno.mkdir(dirname(target), { recursive: true });
    download = await Deno.makeTempDir({
      dir: dirname(target),
      prefix: `.${basename(target)}.download-`,
    });
  } catch (err) {
    throw new RunError(`Cannot restore into "${target}": ${fsReason(err, target)}`, {
      cause: err,
    });
  }
  try {
    const file = `${download}/${basename(path)}`;
    const started = io.now();
    const sidecar = await store.getText(sidecarName(path));
    if (sidecar !== undefined) await Deno.writeTextFile(sidecarName(file), sidecar);
    const body = await store.open(path);
    if (body === undefined) throw new RunError(`Cannot restore "${url}": no such object`);
    // Hashed on the way to the disk, so the check before restoring does not read it again.
    const downloaded = await writePartial(download, basename(path), body);
    await downloaded.commit();
    io.log.info("download done", {
      archive: url,
      bytes: downloaded.bytes,
      seconds: Number(((io.now() - started) / 1000).toFixed(3)),
    });
    return await restoreLocal(settings, file, target, io, include, {
      label: url,
      sha256: downloaded.sha256,
    });
  } finally {
    await Deno.remove(download, { recursive: true });
  }
}

async function restoreLocal(
  settings: Settings,
  archive: string,
  to: string,
  io: CommandIo,
  include: readonly string[],
  download?: { label: string; sha256: string },
): Promise<number> {
  const shown = download?.label ?? archive;
  let noSidecar = false;
  const result = await restoreArchive(archive, resolve(to), {
    ...await identitiesOf(settings),
    ...download,
    ...(include.length > 0 ? { include } : {}),
    owners: io.isRoot,
    onRefused: (r) => io.log.warn("entry not restored", { name: r.name, reason: r.reason }),
    onLeftovers: (path) => io.log.info("removed the leftovers of an interrupted restore", { path }),
    onNoSidecar: () => {
      noSidecar = true;
      io.log.warn("no sidecar: the sha256 was not checked", { archive: shown });
    },
  });
  io.log.info("restore done", {
    archive: shown,
    to: resolve(to),
    restored: result.restored,
    refused: result.refused.length,
    skipped: result.skipped.length,
  });
  if (!io.isRoot) {
    // A database folder restored under the wrong owner does not start: say so once.
    io.log.warn(
      "owners not restored: not running as root, every file belongs to this user; run the restore as root to keep the archive's owners",
      { to: resolve(to) },
    );
  }
  if (result.refused.length > 0) return EXIT.failed;
  return noSidecar || result.skipped.length > 0 || !io.isRoot ? EXIT.warnings : EXIT.ok;
}
