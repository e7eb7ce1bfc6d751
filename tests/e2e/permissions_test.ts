// Permission problems as an operator meets them: backupd run by a user who may not read
// SOURCE, write DEST or the restore target, or read DEST's folders, says so in one line
// naming the path and what to do, never "unexpected error". Root without the capabilities
// that bypass file modes (setpriv) stands for such a user, on folders another uid owns.

import { match, strictEqual } from "node:assert/strict";
import { BACKUPD, backupNow, baseEnv, type Finished, run, tempDir } from "../helpers.ts";

/** `deno task backupd ARGS` without the capabilities that bypass file modes. */
function backupdUnprivileged(args: string[]): Promise<Finished> {
  return run("setpriv", [
    "--bounding-set=-dac_override,-dac_read_search",
    "--",
    Deno.execPath(),
    ...BACKUPD,
    ...args,
  ], { env: baseEnv() });
}

/** A folder owned by another user (uid 999, as PostgreSQL's), mode 0700. */
async function othersFolder(path: string): Promise<void> {
  await Deno.mkdir(path, { recursive: true });
  await Deno.writeTextFile(`${path}/f`, "theirs\n");
  await Deno.chown(`${path}/f`, 999, 999);
  await Deno.chown(path, 999, 999);
  await Deno.chmod(path, 0o700);
}

const HINT = (path: string) =>
  `permission denied; run as root or as the owner of "${
    path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
  }"`;

Deno.test("a SOURCE, DEST or archive folder that may not be read or written is one line naming it", async () => {
  await using dir = await tempDir();
  const source = `${dir.path}/pgdata`;
  await othersFolder(source);
  const read = await backupdUnprivileged(["now", "--source", source, "--dest", `${dir.path}/b`]);
  strictEqual(read.code, 2, read.stderr);
  match(
    read.stderr,
    new RegExp(`^backupd: Cannot use --source "${source}": cannot be read: ${HINT(source)}\\n$`),
  );

  const dest = `${dir.path}/backup`;
  await Deno.mkdir(`${dir.path}/mine`);
  await othersFolder(dest);
  const write = await backupdUnprivileged(["now", "--source", `${dir.path}/mine`, "--dest", dest]);
  strictEqual(write.code, 2, write.stderr);
  match(
    write.stderr,
    new RegExp(`^backupd: Cannot use --dest "${dest}": not writable: ${HINT(dest)}\\n$`),
  );

  // DEST readable, one of its day folders not: list names that folder.
  const listed = `${dir.path}/listed`;
  strictEqual((await backupNow(`${dir.path}/mine`, listed)).code, 0);
  const day = [...Deno.readDirSync(listed)].find((e) => /^\d{4}-/.test(e.name))?.name as string;
  await Deno.chown(`${listed}/${day}`, 999, 999);
  await Deno.chmod(`${listed}/${day}`, 0o700);
  const list = await backupdUnprivileged(["list", "--dest", listed]);
  strictEqual(list.code, 2, list.stderr);
  match(
    list.stderr,
    new RegExp(`^backupd: Cannot list "${listed}/${day}": ${HINT(`${listed}/${day}`)}\\n$`),
  );
  strictEqual(list.stderr.includes("unexpected error"), false);
});

Deno.test("a restore target that may not be written is one line naming it", async () => {
  await using dir = await tempDir();
  const dest = `${dir.path}/backup`;
  await Deno.mkdir(`${dir.path}/data`);
  await Deno.writeTextFile(`${dir.path}/data/f`, "x");
  strictEqual((await backupNow(`${dir.path}/data`, dest)).code, 0);
  const parent = `${dir.path}/locked`;
  await othersFolder(parent);
  const target = `${parent}/restored`;
  const restore = await backupdUnprivileged(["restore", "latest", "--dest", dest, "--to", target]);
  strictEqual(restore.code, 2, restore.stderr);
  match(
    restore.stderr,
    /^backupd: Cannot restore into "[^"]+": permission denied; run as root or as the owner of "[^"]+"\n$/,
  );
});
