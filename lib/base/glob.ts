// Exclude globs: `*`, `?`, `[...]` within one path segment, `**` across segments.
// A glob without `/` matches a name at any depth, as tar's --exclude does.

function segmentClass(glob: string, start: number): [string, number] | undefined {
  let i = start + 1;
  let negate = false;
  if (glob[i] === "!" || glob[i] === "^") {
    negate = true;
    i++;
  }
  let body = "";
  if (glob[i] === "]") {
    body += "\\]";
    i++;
  }
  for (; i < glob.length && glob[i] !== "]"; i++) {
    const c = glob[i] as string;
    body += c === "\\" || c === "^" ? `\\${c}` : c;
  }
  if (i >= glob.length) return undefined;
  return [negate ? `[^/${body}]` : `[${body}]`, i];
}

/**
 * Why a glob cannot be used, or nothing when it can: an unterminated or empty `[...]`.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(globProblem("*.tmp"), undefined);
 * assertEquals(globProblem("["), "an unterminated [ set");
 * ```
 */
export function globProblem(glob: string): string | undefined {
  for (let i = 0; i < glob.length; i++) {
    if (glob[i] !== "[") continue;
    const cls = segmentClass(glob, i);
    if (!cls) return "an unterminated [ set";
    i = cls[1];
  }
  return undefined;
}

/**
 * Turns a glob into an anchored regular expression over `/`-separated paths.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(globToRegExp("pg_wal/**").test("pg_wal/000001"), true);
 * // `*` stays in one segment:
 * assertEquals(globToRegExp("*.tmp").test("a/b.tmp"), false);
 * ```
 */
export function globToRegExp(glob: string): RegExp {
  let out = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === "*") {
      if (glob[i + 1] === "*") {
        const slashAfter = glob[i + 2] === "/";
        out += slashAfter ? "(?:.*/)?" : ".*";
        i += slashAfter ? 2 : 1;
      } else {
        out += "[^/]*";
      }
    } else if (c === "?") {
      out += "[^/]";
    } else if (c === "[") {
      const cls = segmentClass(glob, i);
      if (cls) {
        out += cls[0];
        i = cls[1];
      } else {
        out += "\\[";
      }
    } else {
      out += c.replace(/[.+^${}()|\\\]]/g, "\\$&");
    }
  }
  return new RegExp(`^${out}$`, "u");
}

/**
 * Builds a test for relative paths from exclude globs.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * const excluded = excludeMatcher(["*.tmp", "pg_wal"]);
 * assertEquals(excluded("base/1/x.tmp"), true);
 * assertEquals(excluded("pg_wal"), true);
 * ```
 */
export function excludeMatcher(globs: readonly string[]): (relPath: string) => boolean {
  const tests = globs.map((raw) => {
    const glob = raw.replace(/^\.\//, "").replace(/\/+$/, "");
    const re = globToRegExp(glob);
    if (glob.includes("/")) return (rel: string) => re.test(rel);
    return (rel: string) => re.test(rel.slice(rel.lastIndexOf("/") + 1));
  });
  return (relPath) => tests.some((t) => t(relPath));
}
