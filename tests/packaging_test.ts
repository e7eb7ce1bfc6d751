// What ships beside the code: the build context, the compose settings, the image's labels,
// and the alert rules with their unit tests (Debian's promtool).

import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import { ROOT, run } from "./helpers.ts";

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

Deno.test("the alert rules pass promtool check rules, and each alert's unit tests fire and stay quiet as written", async () => {
  const dir = `${ROOT}/deploy/prometheus`;
  const checked = await run("promtool", ["check", "rules", "backupd-rules.yml"], { cwd: dir });
  strictEqual(checked.code, 0, checked.stdout + checked.stderr);
  match(checked.stdout, /SUCCESS: 9 rules found/);
  const tested = await run("promtool", ["test", "rules", "backupd-rules.test.yml"], { cwd: dir });
  strictEqual(tested.code, 0, tested.stdout + tested.stderr);
  match(tested.stdout, /SUCCESS/);
  // Every alert has a case that fires it and one that keeps it quiet.
  const rules = read("deploy/prometheus/backupd-rules.yml");
  const tests = read("deploy/prometheus/backupd-rules.test.yml");
  const alerts = [...rules.matchAll(/- alert: (\w+)/g)].map((m) => m[1] as string);
  strictEqual(alerts.length, 9);
  for (const alert of alerts) {
    const cases = tests.split(/\n {6}- eval_time: /).filter((c) =>
      c.includes(`alertname: ${alert}\n`)
    );
    strictEqual(cases.some((c) => /exp_alerts: \[\]/.test(c)), true, `${alert}: no quiet case`);
    strictEqual(cases.some((c) => /exp_alerts:\n/.test(c)), true, `${alert}: no firing case`);
  }
});
