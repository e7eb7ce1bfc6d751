import { match, strictEqual } from "node:assert/strict";
import { cli } from "../../lib/cli/cli.ts";
import type { Io } from "../../lib/cli/io.ts";
import { tempDir } from "../helpers.ts";

/** The process as a command sees it, its output kept; root or not as asked. */
function io(isRoot: boolean) {
  const out = { stdout: "", stderr: "" };
  const world: Io = {
    stdout: (text) => out.stdout += text,
    stderr: (text) => out.stderr += text,
    stderrIsTerminal: false,
    now: () => Date.now(),
    timeZone: "UTC",
    pid: Deno.pid,
    isRoot,
    onSignal: () => () => {},
  };
  return { out, world };
}

Deno.test("restore by a user who is not root warns once that owners were not kept and exits 1", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/data`);
  await Deno.writeTextFile(`${dir.path}/data/f`, "x");
  const made = io(true);
  const code = await cli(
    ["now", "--source", `${dir.path}/data`, "--dest", `${dir.path}/b`],
    {},
    made.world,
  );
  strictEqual(code, 0, made.out.stderr);

  const user = io(false);
  const restored = await cli(
    ["restore", "latest", "--dest", `${dir.path}/b`, "--to", `${dir.path}/r`],
    {},
    user.world,
  );
  strictEqual(restored, 1, user.out.stderr);
  strictEqual(await Deno.readTextFile(`${dir.path}/r/f`), "x");
  const warnings = user.out.stderr.split("\n").filter((line) => line.includes(" WARN "));
  strictEqual(warnings.length, 1, user.out.stderr);
  match(warnings[0] as string, /WARN owners not restored: not running as root/);

  const root = io(true);
  const asRoot = await cli(
    ["restore", "latest", "--dest", `${dir.path}/b`, "--to", `${dir.path}/r2`],
    {},
    root.world,
  );
  strictEqual(asRoot, 0, root.out.stderr);
  strictEqual(root.out.stderr.includes("owners not restored"), false);
});
