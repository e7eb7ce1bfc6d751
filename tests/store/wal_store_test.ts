import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { createHash } from "node:crypto";
import { listWal, localWalStore, removeWalLeftovers, storeWal } from "../../lib/store/wal_store.ts";
import { tempDir } from "../helpers.ts";

const MB16 = 16 * 1024 * 1024;

Deno.test("storeWal writes the file and its sidecar under DEST/wal, dated as told, and nothing hidden stays", async () => {
  await using dir = await tempDir();
  const bytes = new TextEncoder().encode("segment bytes");
  const stored = Date.UTC(2026, 11, 3, 14, 5, 3);
  const sha = await storeWal(dir.path, "000000010000000000000003.gz", bytes, stored);
  strictEqual(sha, createHash("sha256").update(bytes).digest("hex"));
  deepStrictEqual(
    [...Deno.readDirSync(`${dir.path}/wal`)].map((e) => e.name).sort(),
    ["000000010000000000000003.gz", "000000010000000000000003.gz.sha256"],
  );
  strictEqual(
    await Deno.readTextFile(`${dir.path}/wal/000000010000000000000003.gz.sha256`),
    `${sha}  000000010000000000000003.gz\n`,
  );
  const [file] = await listWal(dir.path, MB16);
  deepStrictEqual([file?.kind, file?.segno, file?.size, file?.storedMs], [
    "segment",
    3,
    13,
    stored,
  ]);
  strictEqual((await Deno.stat(`${dir.path}/wal`)).mode! & 0o777, 0o700);
});

Deno.test("listWal leaves out a file without its sidecar and names it never wrote; leftovers go", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/wal`);
  await Deno.writeTextFile(`${dir.path}/wal/000000010000000000000004.gz`, "no sidecar");
  await Deno.writeTextFile(`${dir.path}/wal/notes.txt`, "not ours");
  await Deno.writeTextFile(`${dir.path}/wal/.000000010000000000000005.gz.partial`, "killed");
  deepStrictEqual(await listWal(dir.path, MB16), []);
  deepStrictEqual(await removeWalLeftovers(dir.path), [".000000010000000000000005.gz.partial"]);
  deepStrictEqual(
    (await localWalStore(dir.path).list()).map((o) => o.file).sort(),
    ["000000010000000000000004.gz", "notes.txt"],
  );
  deepStrictEqual(await listWal(`${dir.path}/nowhere`, MB16), []);
});
