import { strictEqual } from "node:assert/strict";
import { excludeMatcher, globProblem, globToRegExp } from "../../lib/base/glob.ts";

Deno.test("globToRegExp keeps * and ? inside one segment and lets ** cross them", () => {
  strictEqual(globToRegExp("*.tmp").test("x.tmp"), true);
  strictEqual(globToRegExp("*.tmp").test("a/x.tmp"), false);
  strictEqual(globToRegExp("a/?.log").test("a/1.log"), true);
  strictEqual(globToRegExp("a/?.log").test("a/12.log"), false);
  strictEqual(globToRegExp("base/**/*.tmp").test("base/x.tmp"), true);
  strictEqual(globToRegExp("base/**/*.tmp").test("base/1/2/x.tmp"), true);
  strictEqual(globToRegExp("log/**").test("log/a/b"), true);
  strictEqual(globToRegExp("[ab]c").test("bc"), true);
  strictEqual(globToRegExp("[!ab]c").test("bc"), false);
  strictEqual(globToRegExp("a.b+(c)").test("a.b+(c)"), true);
  strictEqual(globToRegExp("a.b").test("axb"), false);
});

Deno.test("excludeMatcher matches a bare name at any depth and a path from the root", () => {
  const excluded = excludeMatcher(["*.tmp", "pg_wal", "./base/16384/", "logs/*.log"]);
  strictEqual(excluded("a/b/c.tmp"), true);
  strictEqual(excluded("pg_wal"), true);
  strictEqual(excluded("deep/pg_wal"), true);
  strictEqual(excluded("base/16384"), true);
  strictEqual(excluded("other/base/16384"), false);
  strictEqual(excluded("logs/x.log"), true);
  strictEqual(excluded("logs/sub/x.log"), false);
  strictEqual(excluded("keep.txt"), false);
});

Deno.test("globProblem names an unterminated set and accepts the rest", () => {
  for (const bad of ["[", "a[b", "[]", "log/[0-9"]) {
    strictEqual(globProblem(bad), "an unterminated [ set", bad);
  }
  for (const good of ["[a]", "*.tmp", "[!x]", "[]]", "**/pg_wal", "a]b"]) {
    strictEqual(globProblem(good), undefined, good);
  }
});
