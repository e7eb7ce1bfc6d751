// The shape of lib/ (README: Architecture): concept folders in layers, each module importing
// only its own folder or a lower layer, and no module reaching itself through its imports.

import { deepStrictEqual } from "node:assert/strict";
import { dirname, join, relative } from "node:path";

const LIB = new URL("../lib", import.meta.url).pathname;

/** The layers, lowest first; folders in one layer are siblings and do not import each other. */
const LAYERS = [
  ["base"],
  ["store"],
  ["codec"],
  ["archive", "read"],
  ["offsite"],
  ["settings"],
  ["postgres", "containers", "notices"],
  ["scratch"],
  ["run", "drill", "dump"],
  ["daemon"],
  ["cli"],
];

const rank = (folder: string) => LAYERS.findIndex((layer) => layer.includes(folder));

function modules(dir = LIB): string[] {
  return [...Deno.readDirSync(dir)].flatMap((e) =>
    e.isDirectory ? modules(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []
  );
}

/** The lib modules a module imports, statically, dynamically or as a worker. */
function importsOf(path: string): string[] {
  const text = Deno.readTextFileSync(path);
  const specifiers = [
    ...text.matchAll(/^(?:import|export)[^"';]*?from\s+"(\.[^"]+\.ts)"/gm),
    ...text.matchAll(/import\("(\.[^"]+\.ts)"\)/g),
    ...text.matchAll(/new URL\("(\.[^"]+\.ts)", import\.meta\.url\)/g),
  ].map((m) => m[1] as string);
  return specifiers.map((s) => join(dirname(path), s));
}

const folderOf = (path: string) => relative(LIB, path).split("/")[0] as string;

Deno.test("every lib module sits in a folder of a layer, and imports only its folder or lower layers", () => {
  const wrong: string[] = [];
  for (const path of modules()) {
    const from = folderOf(path);
    if (rank(from) < 0 || relative(LIB, path).split("/").length !== 2) {
      wrong.push(`${relative(LIB, path)}: not in a layer's folder`);
      continue;
    }
    for (const target of importsOf(path)) {
      const to = folderOf(target);
      if (to !== from && !(rank(to) < rank(from))) {
        wrong.push(`${relative(LIB, path)} imports ${relative(LIB, target)}`);
      }
    }
  }
  deepStrictEqual(wrong, []);
});

Deno.test("no lib module reaches itself through its imports", () => {
  const graph = new Map(modules().map((m) => [m, importsOf(m)]));
  const cycles: string[] = [];
  const state = new Map<string, "open" | "done">();
  const visit = (node: string, path: string[]) => {
    if (state.get(node) === "done") return;
    if (state.get(node) === "open") {
      cycles.push(
        [...path.slice(path.indexOf(node)), node].map((p) => relative(LIB, p)).join(" -> "),
      );
      return;
    }
    state.set(node, "open");
    for (const next of graph.get(node) ?? []) visit(next, [...path, node]);
    state.set(node, "done");
  };
  for (const node of graph.keys()) visit(node, []);
  deepStrictEqual(cycles, []);
});
