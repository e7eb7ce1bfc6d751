// What ships beside the code: the build context, the compose settings, the image's labels.

import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { ROOT } from "./helpers.ts";

const read = (name: string) => Deno.readTextFileSync(`${ROOT}/${name}`);

Deno.test(".dockerignore keeps the database, the archives, .git and node_modules out of the build", () => {
  const lines = read(".dockerignore").split("\n").map((l) => l.trim());
  for (const pattern of ["dbdata*", "backup/", ".git", "node_modules"]) {
    strictEqual(lines.includes(pattern), true, pattern);
  }
});

Deno.test(".env.example holds every setting docker-compose.yaml reads, with its default", () => {
  const compose = read("docker-compose.yaml");
  const used = new Map<string, string>();
  for (const m of compose.matchAll(/\$\{([A-Z0-9_]+)(?::-([^}]*))?\}/g)) {
    used.set(m[1] as string, m[2] ?? "");
  }
  const example = new Map<string, string>();
  for (const line of read(".env.example").split("\n")) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (m) example.set(m[1] as string, m[2] as string);
  }
  deepStrictEqual([...example.keys()].sort(), [...used.keys()].sort());
  for (const [name, value] of used) strictEqual(example.get(name), value, name);
});

Deno.test("the image carries OCI labels, its version the one in deno.json", () => {
  const dockerfile = read("Dockerfile.backup");
  const version = JSON.parse(read("deno.json")).version;
  strictEqual(dockerfile.includes('org.opencontainers.image.title="backupd"'), true);
  strictEqual(dockerfile.includes(`org.opencontainers.image.version="${version}"`), true);
});
