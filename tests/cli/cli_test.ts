import { deepStrictEqual, match, strictEqual, throws } from "node:assert/strict";
import { UsageError } from "../../lib/base/errors.ts";
import { parseCommandLine } from "../../lib/cli/cli.ts";

/** The long options a command's --help lists (`-h, --help` aside). */
function helpOptions(command: string): string[] {
  const parsed = parseCommandLine([command, "--help"]);
  if (!("output" in parsed)) throw new Error(`no help for ${command}`);
  return [...parsed.output.matchAll(/^\s+(--[a-z0-9-]+)/gm)].map((m) => m[1] as string);
}

Deno.test("each command's help lists exactly the options it uses", () => {
  deepStrictEqual(helpOptions("prune"), [
    "--dest",
    "--tz",
    "--log-format",
    "--keep-last",
    "--keep-daily",
    "--keep-weekly",
    "--keep-monthly",
    "--keep-within",
    "--s3-url",
    "--s3-endpoint",
    "--s3-region",
    "--s3-path-style",
    "--dry-run",
    "--json",
  ]);
  deepStrictEqual(helpOptions("health"), [
    "--dest",
    "--tz",
    "--schedule",
    "--log-format",
    "--drill-max-age",
    "--json",
  ]);
  deepStrictEqual(helpOptions("restore"), [
    "--dest",
    "--tz",
    "--log-format",
    "--s3-url",
    "--s3-endpoint",
    "--s3-region",
    "--s3-path-style",
    "--age-identity",
    "--to",
    "--to-time",
    "--include",
  ]);
  deepStrictEqual(helpOptions("wal"), [
    "--postgres",
    "--wal-slot",
    "--log-format",
    "--dest",
    "--tz",
    "--age-identity",
    "--from",
    "--to",
    "--table",
  ]);
  for (const option of ["--wal", "--wal-interval", "--wal-slot", "--wal-max-retained"]) {
    strictEqual(helpOptions("run").includes(option), true, option);
    strictEqual(helpOptions("now").includes(option), false, option);
  }
  const now = helpOptions("now");
  for (const option of ["--source", "--exclude", "--pre-hook", "--age-recipient", "--postgres"]) {
    strictEqual(now.includes(option), true, option);
  }
  strictEqual(now.includes("--schedule"), false);
  strictEqual(helpOptions("run").includes("--schedule"), true);
});

Deno.test("parseCommandLine refuses an option the command does not take with a UsageError", () => {
  throws(() => parseCommandLine(["prune", "--pre-hook", "true"]), (err: unknown) => {
    strictEqual(err instanceof UsageError, true);
    strictEqual(
      (err as Error).message,
      "Cannot parse the command line: unknown option '--pre-hook'",
    );
    return true;
  });
});

Deno.test("help COMMAND prints that command's help, and help alone the program's", () => {
  const asHelp = (args: string[]) => {
    const parsed = parseCommandLine(args);
    return "output" in parsed ? parsed.output : "";
  };
  strictEqual(asHelp(["help", "now"]), asHelp(["now", "--help"]));
  match(asHelp(["help", "now"]), /^Usage: backupd now \[options\]/);
  strictEqual(asHelp(["help"]), asHelp(["--help"]));
  throws(() => parseCommandLine(["help", "nwo"]), /unknown command 'nwo' \(did you mean now\?\)/);
});

Deno.test("now's help says which compressions there are", () => {
  const parsed = parseCommandLine(["now", "--help"]);
  strictEqual(
    "output" in parsed && /--compression <kind>\s+gzip or zstd/.test(parsed.output),
    true,
  );
});
