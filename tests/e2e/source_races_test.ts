// Paths swapped for links to outside SOURCE while backupd reads the tree: the run never
// fails on them and never stores what lies outside SOURCE.

import { strictEqual } from "node:assert/strict";
import { backupNow, fileWarnings, listFiles, run, tempDir } from "../helpers.ts";

const SECRET = "SECRET-OUTSIDE-SOURCE";

Deno.test("files and folders swapped for links while read never bring outside content in, nor fail the run", async () => {
  await using work = await tempDir();
  const src = `${work.path}/src`;
  const out = `${work.path}/outside`;
  await Deno.mkdir(`${out}/dir`, { recursive: true });
  await Deno.writeTextFile(`${out}/secret`, SECRET);
  await Deno.writeTextFile(`${out}/dir/inner`, SECRET);
  for (let i = 0; i < 100; i++) {
    await Deno.mkdir(`${src}/d${i % 5}`, { recursive: true });
    await Deno.writeTextFile(`${src}/f${i}`, `data${i}`);
    await Deno.writeTextFile(`${src}/d${i % 5}/g${i}`, `data${i}`);
  }
  // Swaps each file for a link to the secret and back (atomic renames), and each folder
  // for a link to the outside folder and back, over and over.
  const swapper = new Deno.Command("sh", {
    args: [
      "-c",
      `cd ${src}; while :; do for i in $(seq 0 99); do ` +
      `ln -sfn ${out}/secret f$i.l && mv -fT f$i.l f$i; printf data$i > f$i.t && mv -fT f$i.t f$i; done; ` +
      `for i in 0 1 2 3 4; do mv -T d$i d$i.x && ln -sfn ${out}/dir d$i && rm d$i && mv -T d$i.x d$i; done; done`,
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    for (let run = 0; run < 8; run++) {
      const result = await backupNow(src, `${work.path}/backup`);
      strictEqual(result.code === 0 || result.code === 1, true, result.stderr);
      strictEqual(/ ERROR /.test(result.stderr), false, result.stderr);
    }
  } finally {
    swapper.kill("SIGKILL");
    await swapper.status;
  }
  const archives = (await listFiles(`${work.path}/backup`)).filter((f) => f.endsWith(".tar.gz"));
  strictEqual(archives.length, 8);
  for (const archive of archives) {
    // Links are stored as links; no regular entry may hold what lies outside SOURCE.
    const content = await run("tar", ["-xzOf", `${work.path}/backup/${archive}`]);
    strictEqual(content.code, 0, content.stderr);
    strictEqual(content.stdout.includes(SECRET), false, `${archive} holds outside content`);
  }
});

Deno.test("a name that is not valid UTF-8 is named in a warning, exit 1, never as vanished", async () => {
  await using work = await tempDir();
  const src = `${work.path}/src`;
  await Deno.mkdir(src);
  await Deno.writeTextFile(`${src}/ok`, "kept");
  const made = await run("sh", ["-c", `printf x > "${src}/$(printf 'bad\\377name')"`]);
  strictEqual(made.code, 0, made.stderr);
  const result = await backupNow(src, `${work.path}/backup`);
  strictEqual(result.code, 1, result.stderr);
  const warnings = fileWarnings(result.stderr);
  strictEqual(warnings.length, 1, result.stderr);
  strictEqual(
    warnings[0]?.replace(/^\S+ /, ""),
    "WARN skipped: the name is not valid UTF-8 (\\ufffd marks the bytes), which backupd cannot open; rename it to archive it path=src/bad\\ufffdname",
  );
  strictEqual(result.stderr.includes("vanished"), false);
  const archive = (await listFiles(`${work.path}/backup`)).find((f) => f.endsWith(".tar.gz"));
  const content = await run("tar", ["-xzOf", `${work.path}/backup/${archive}`, "src/ok"]);
  strictEqual(content.stdout, "kept");
});
