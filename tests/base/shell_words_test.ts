import { deepStrictEqual, throws } from "node:assert/strict";
import { splitWords } from "../../lib/base/shell_words.ts";

Deno.test("splitWords splits on blanks and keeps quoted words whole, as a shell would", () => {
  deepStrictEqual(splitWords("pg_dump  -U postgres\t-f /tmp/x.sql"), [
    "pg_dump",
    "-U",
    "postgres",
    "-f",
    "/tmp/x.sql",
  ]);
  deepStrictEqual(splitWords(`sh -c 'pg_dumpall > "$DEST/all.sql"'`), [
    "sh",
    "-c",
    'pg_dumpall > "$DEST/all.sql"',
  ]);
  deepStrictEqual(splitWords(`echo "a \\"b\\" \\$HOME \\x"`), ["echo", 'a "b" $HOME \\x']);
  deepStrictEqual(splitWords(`a\\ b c''d "" ''`), ["a b", "cd", "", ""]);
  deepStrictEqual(splitWords("   "), []);
});

Deno.test("splitWords throws a RangeError on an unterminated quote or a trailing backslash", () => {
  throws(
    () => splitWords("echo 'open"),
    new RangeError("Cannot split the command: unterminated single quote"),
  );
  throws(
    () => splitWords('echo "open'),
    new RangeError("Cannot split the command: unterminated double quote"),
  );
  throws(
    () => splitWords("echo \\"),
    new RangeError("Cannot split the command: a trailing backslash"),
  );
});
