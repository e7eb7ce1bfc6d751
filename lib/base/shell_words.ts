// Splits a hook command into words as a POSIX shell would (quotes and backslashes), with
// no expansion of variables or globs: hooks run without a shell.

/**
 * Splits `command` into words; throws RangeError on an unterminated quote or escape.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(splitWords(`pg_dump -f '/backup/my dump.sql' "db\\"1"`), ["pg_dump", "-f", "/backup/my dump.sql", 'db"1']);
 * ```
 */
export function splitWords(command: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  for (let i = 0; i < command.length; i++) {
    const c = command[i] as string;
    if (c === " " || c === "\t" || c === "\n") {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else if (c === "'") {
      const end = command.indexOf("'", i + 1);
      if (end === -1) throw new RangeError("Cannot split the command: unterminated single quote");
      word += command.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '"') {
      inWord = true;
      for (i++;; i++) {
        if (i >= command.length) {
          throw new RangeError("Cannot split the command: unterminated double quote");
        }
        const d = command[i] as string;
        if (d === '"') break;
        if (d === "\\" && i + 1 < command.length && '$`"\\\n'.includes(command[i + 1] as string)) {
          i++;
          if (command[i] !== "\n") word += command[i];
        } else {
          word += d;
        }
      }
    } else if (c === "\\") {
      if (i + 1 >= command.length) {
        throw new RangeError("Cannot split the command: a trailing backslash");
      }
      i++;
      if (command[i] !== "\n") word += command[i];
      inWord = true;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}
