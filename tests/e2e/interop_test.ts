// `backupd now` on the interop tree, read back by GNU tar, bsdtar and Python's tarfile:
// each must extract a tree equal to the source in every attribute.

import { deepStrictEqual, strictEqual } from "node:assert/strict";
import {
  backupd,
  backupNow,
  fileWarnings,
  isRoot,
  listFiles,
  onlyArchive,
  run,
  tempDir,
} from "../helpers.ts";
import { assertSameTree, makeInteropTree, NAME_LENGTHS, snapshot } from "../tree.ts";
import { memberLength } from "../../lib/codec/framing.ts";

const PYTHON_EXTRACT = `
import sys, tarfile
with tarfile.open(sys.argv[1]) as archive:
    archive.extractall(sys.argv[2], filter="fully_trusted")
`;

const PYTHON_NAMES = `
import sys, tarfile
with tarfile.open(sys.argv[1]) as archive:
    for member in archive.getmembers():
        print(member.name)
`;

const EXTRACTORS: Record<string, (archive: string, out: string) => [string, string[]]> = {
  // The tree holds a 2100 mtime on purpose; GNU tar's "time stamp in the future" note is
  // about that value, not the format, so it alone is turned off. Every other warning shows.
  "GNU tar": (archive, out) => ["tar", ["--warning=no-timestamp", "-xzf", archive, "-C", out]],
  bsdtar: (archive, out) => ["bsdtar", ["-xpf", archive, "-C", out]],
  "Python tarfile": (archive, out) => ["python3", ["-c", PYTHON_EXTRACT, archive, out]],
};

Deno.test("backupd now writes an archive that GNU tar, bsdtar and Python extract to the source tree", async (t) => {
  await using tmpDir = await tempDir();
  const tmp = tmpDir.path;
  const source = `${tmp}/data`;
  await Deno.mkdir(source);
  const owners = isRoot();
  await makeInteropTree(source, { owners });
  const result = await backupNow(source, `${tmp}/backup`, ["--tz", "UTC"]);
  deepStrictEqual(fileWarnings(result.stderr), [], result.stderr);
  strictEqual(result.code, 0, result.stderr);
  const archive = await onlyArchive(`${tmp}/backup`);

  await t.step("the archive is several gzip members, each giving its length", async () => {
    const bytes = await Deno.readFile(archive);
    let members = 0;
    for (let at = 0; at < bytes.length; members++) {
      const length = memberLength(bytes.subarray(at, at + 20));
      if (length === undefined) throw new Error(`no member length at byte ${at}`);
      at += length;
    }
    strictEqual(members >= 4, true, `${members} members`);
    strictEqual((await run("gzip", ["-t", archive])).code, 0);
  });

  await t.step("sha256sum -c passes on the sidecar", async () => {
    const dir = archive.slice(0, archive.lastIndexOf("/"));
    const name = archive.slice(dir.length + 1);
    const check = await run("sha256sum", ["-c", `${name}.sha256`], { cwd: dir });
    strictEqual(check.code, 0, check.stdout + check.stderr);
    strictEqual(check.stdout.trim(), `${name}: OK`);
  });

  await t.step("entry names of every length are read back whole", async () => {
    const listed = await run("python3", ["-c", PYTHON_NAMES, archive]);
    strictEqual(listed.code, 0, listed.stderr);
    const lengths = new Set(
      listed.stdout.split("\n").filter((n) => n.includes("/len")).map((n) =>
        new TextEncoder().encode(n).length
      ),
    );
    for (const length of NAME_LENGTHS) {
      strictEqual(lengths.has(length), true, `no name of ${length} bytes`);
    }
  });

  for (const [reader, command] of Object.entries(EXTRACTORS)) {
    await t.step(`${reader} extracts a tree equal to the source`, async () => {
      await extractsTo(command(archive, "OUT"), source, owners);
    });
  }
});

/** Runs an extraction into a fresh folder (OUT in the command) and compares it to `source`. */
async function extractsTo(
  [cmd, args]: [string, string[]],
  source: string,
  owners: boolean,
): Promise<void> {
  await using outDir = await tempDir();
  const out = outDir.path;
  const extracted = await run(cmd, args.map((a) => a.replaceAll("OUT", out)));
  strictEqual(extracted.code, 0, extracted.stderr);
  strictEqual(extracted.stderr, "", `${cmd} printed warnings`);
  deepStrictEqual(await listFiles(out), [
    "data/",
    ...(await listFiles(source)).map((f) => `data/${f}`),
  ]);
  await assertSameTree(source, `${out}/data`, { owners });
}

const PYTHON_STREAM_EXTRACT = `
import sys, tarfile
with tarfile.open(fileobj=sys.stdin.buffer, mode="r|") as archive:
    archive.extractall(sys.argv[1], filter="fully_trusted")
`;

const ZSTD_EXTRACTORS: Record<string, (archive: string) => [string, string[]]> = {
  "GNU tar --zstd": (
    archive,
  ) => ["tar", ["--warning=no-timestamp", "--zstd", "-xf", archive, "-C", "OUT"]],
  bsdtar: (archive) => ["bsdtar", ["-xpf", archive, "-C", "OUT"]],
  "the zstd CLI into Python's tarfile": (archive) => [
    "bash",
    ["-c", `set -o pipefail; zstd -dcq '${archive}' | python3 -c '${PYTHON_STREAM_EXTRACT}' OUT`],
  ],
};

Deno.test("backupd now --compression zstd writes a .tar.zst that tar --zstd, bsdtar and zstd read back", async (t) => {
  await using tmpDir = await tempDir();
  const source = `${tmpDir.path}/data`;
  await Deno.mkdir(source);
  const owners = isRoot();
  await makeInteropTree(source, { owners });
  const result = await backupNow(source, `${tmpDir.path}/backup`, ["--compression", "zstd"]);
  strictEqual(result.code, 0, result.stderr);
  const archive = await onlyArchive(`${tmpDir.path}/backup`);
  strictEqual(archive.endsWith(".tar.zst"), true, archive);
  strictEqual((await run("zstd", ["-tq", archive])).code, 0);
  const dir = archive.slice(0, archive.lastIndexOf("/"));
  strictEqual(
    (await run("sha256sum", ["-c", `${archive.slice(dir.length + 1)}.sha256`], { cwd: dir })).code,
    0,
  );
  for (const [reader, command] of Object.entries(ZSTD_EXTRACTORS)) {
    await t.step(
      `${reader} extracts a tree equal to the source`,
      () => extractsTo(command(archive), source, owners),
    );
  }
  await t.step("backupd verify, list and restore take it too", async () => {
    const verified = await backupd(["verify", "--dest", `${tmpDir.path}/backup`]);
    strictEqual(verified.code, 0, verified.stdout + verified.stderr);
    strictEqual(verified.stdout.startsWith("OK "), true);
    const listed = await backupd(["list", "--dest", `${tmpDir.path}/backup`]);
    strictEqual(
      listed.stdout.split("\n")[1]?.split(" ")[0],
      archive.slice(`${tmpDir.path}/backup/`.length),
    );
    const restored = await backupd(["restore", archive, "--to", `${tmpDir.path}/restored`]);
    strictEqual(restored.code, 0, restored.stderr);
    const expected = await snapshot(source, { owners });
    const actual = await snapshot(`${tmpDir.path}/restored`, { owners });
    for (const [rel, attrs] of expected) {
      deepStrictEqual(actual.get(rel), attrs, `"${rel}" differs`);
    }
  });
});
