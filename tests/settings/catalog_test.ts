// The catalog is the one description of the settings: README's settings table, .env.example
// and --help are held to it here.

import { deepStrictEqual } from "node:assert/strict";
import { flagName, settingKeys, specOf } from "../../lib/settings/catalog.ts";
import { parseCommandLine } from "../../lib/cli/cli.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

/** The variables of the catalog, visible ones only. */
function catalogVariables(): string[] {
  return settingKeys().filter((key) => !specOf(key).hidden).flatMap((key) => {
    const env = specOf(key).env;
    return env === undefined ? [] : [env];
  }).sort();
}

/** The backticked words of one column of README's "## Settings" table. */
function readmeColumn(column: number): string[] {
  const readme = Deno.readTextFileSync(`${ROOT}/README.md`);
  const section = readme.split("\n## Settings\n")[1]?.split("\n## ")[0] ?? "";
  const rows = section.split("\n").filter((line) => line.startsWith("| ") && !line.includes("---"));
  return rows.slice(1).flatMap((row) => {
    const cell = row.split(" | ")[column] ?? "";
    return [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string);
  });
}

Deno.test("README's settings table names every variable of the catalog, and no other", () => {
  const secrets = new Set(
    settingKeys().filter((key) => specOf(key).secret).map((key) => `${specOf(key).env}_FILE`),
  );
  const named = readmeColumn(1).filter((word) => /^[A-Z][A-Z0-9_]+$/.test(word))
    .filter((name) => !secrets.has(name));
  deepStrictEqual([...new Set(named)].sort(), catalogVariables());
});

Deno.test("README's settings table names every flag of the catalog, and no other", () => {
  const named = readmeColumn(0).map((word) => word.split(" ")[0] as string)
    .filter((word) => word.startsWith("--"));
  const flags = settingKeys().filter((key) => !specOf(key).hidden).flatMap((key) => {
    const negation = specOf(key).negation?.flag;
    const flag = flagName(key);
    return [...(flag ? [flag] : []), ...(negation ? [negation] : [])];
  });
  deepStrictEqual([...new Set(named)].sort(), flags.sort());
});

Deno.test(".env.example names only variables of the catalog (and the database's own)", () => {
  const text = Deno.readTextFileSync(`${ROOT}/.env.example`);
  const names = [...text.matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1] as string);
  const known = new Set(catalogVariables());
  const strangers = names.filter((name) =>
    !name.startsWith("POSTGRES_") && !known.has(name) && !known.has(name.replace(/_FILE$/, ""))
  );
  deepStrictEqual(strangers, []);
});

Deno.test("config's help lists every visible flag of the catalog, each with its variable", () => {
  const parsed = parseCommandLine(["config", "--help"]);
  const help = "output" in parsed ? parsed.output : "";
  const missing = settingKeys().filter((key) => {
    const spec = specOf(key);
    if (spec.hidden || spec.flag === undefined) return false;
    const line = help.split("\n").find((l) => l.trimStart().startsWith(spec.flag as string));
    return line === undefined || (spec.env !== undefined && !help.includes(spec.env));
  });
  deepStrictEqual(missing, []);
});
