// The command line: commander parses it (a pure step tests can call), then the command
// runs and its result or error becomes an exit code. Only main.ts exits.

import { Command, CommanderError } from "commander";
import { runDaemon, systemClock } from "../daemon/daemon.ts";
import {
  ConfigError,
  describeError,
  EXIT,
  LockHeldError,
  RunError,
  UsageError,
} from "../base/errors.ts";
import { commandHealth } from "./health.ts";
import { commandList } from "./list.ts";
import { commandPrune } from "./prune.ts";
import { commandRestore } from "./restore.ts";
import { commandVerify } from "./verify.ts";
import { createLogger } from "../base/log.ts";
import { resolveSettings } from "../settings/settings.ts";
import type { Env, Flags } from "../settings/flags.ts";
import denoJson from "../../deno.json" with { type: "json" };
import type { Io } from "./io.ts";
import { BACKUP_OPTIONS, withOptions } from "./options.ts";
import { commandNow, originsOf } from "./now.ts";

/** The program's version, from deno.json. */
export const VERSION: string = denoJson.version;

/** The subcommands. */
export type CommandName = "now" | "run" | "health" | "list" | "verify" | "restore" | "prune";

/** What the command line asked for. */
export interface Invocation {
  /** The subcommand. */
  command: CommandName;
  /** Its flags. */
  flags: Flags;
  /** Its operands. */
  operands: string[];
}

/** Text a parse printed instead of an invocation (help, version). */
export interface Printed {
  /** What to print on stdout. */
  output: string;
}

/**
 * Parses the command line without side effects.
 *
 * @example
 * ```ts ignore
 * parseCommandLine(["now", "--source", "/srv"]);
 * // { command: "now", flags: { source: "/srv" }, operands: [] }
 * ```
 */
export function parseCommandLine(args: readonly string[]): Invocation | Printed {
  let invocation: Invocation | undefined;
  let output = "";
  const program = new Command("backupd")
    .description("Timely, verified .tar.gz backups of a data folder.")
    .version(VERSION, "--version")
    .exitOverride()
    .showSuggestionAfterError(false)
    .configureOutput({
      writeOut: (text) => output += text,
      writeErr: (text) => output += text,
      outputError: () => undefined,
    });
  const define = (name: CommandName, description: string, isDefault = false) =>
    program.command(name, { isDefault }).description(description).exitOverride()
      .configureOutput({ writeOut: (text) => output += text, writeErr: (text) => output += text });
  const record = (command: CommandName) => (flags: Flags, cmd: Command) => {
    invocation = { command, flags, operands: cmd.args };
  };

  withOptions(
    define("now", "make one backup now (then apply retention when a rule is set)"),
    BACKUP_OPTIONS,
  ).action(record("now"));
  withOptions(
    define("run", "the daemon: back up at each scheduled slot", true),
    [...BACKUP_OPTIONS, "schedule", "daemonStart"],
  ).action(record("run"));
  withOptions(
    define("health", "exit 0 when backups are current, else 1, with one line saying why"),
    ["dest", "tz", "schedule", "logFormat"],
  ).action(record("health"));
  withOptions(
    define("list", "archives under DEST, newest first: name, size, age"),
    ["dest", "tz", "logFormat", "s3"],
  )
    .option("--remote", "list the archives in the bucket of --s3-url instead")
    .action(record("list"));
  withOptions(
    define("verify", "check archives (the newest when none is named)"),
    ["dest", "logFormat", "s3", "identity"],
  )
    .argument("[archive...]", "archive paths, names relative to DEST, or s3:// addresses")
    .option("--all", "check every archive under DEST")
    .option("--remote", "check archives in the bucket of --s3-url (names relative to it)")
    .action((archives: string[], flags: Flags) => {
      invocation = { command: "verify", flags, operands: archives };
    });
  withOptions(
    define("restore", "extract an archive safely into DIR, which must not exist or be empty"),
    ["dest", "logFormat", "s3", "identity"],
  )
    .argument("<archive>", "archive path, name relative to DEST, or s3:// address")
    .requiredOption("--to <dir>", "folder to restore into")
    .action((archive: string, flags: Flags) => {
      invocation = { command: "restore", flags, operands: [archive] };
    });
  withOptions(
    define("prune", "apply the retention policy, listing keep/remove with reasons"),
    ["dest", "tz", "logFormat", "keep", "s3"],
  )
    .option("--dry-run", "print the plan and change nothing")
    .action(record("prune"));

  try {
    program.parse([...args], { from: "user" });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return { output };
      throw new UsageError(
        `Cannot parse the command line: ${err.message.replace(/^error: /, "")}`,
        {
          cause: err,
        },
      );
    }
    throw err;
  }
  return invocation ?? { output: program.helpInformation() };
}

/**
 * Runs the command line and returns the exit code; never throws.
 *
 * @example
 * ```ts ignore
 * const code = await cli(["now", "--source", "/srv", "--dest", "/tmp/b"], Deno.env.toObject(), io);
 * ```
 */
export async function cli(args: readonly string[], env: Env, io: Io): Promise<number> {
  const plain = (message: string) => io.stderr(`backupd: ${message}\n`);
  try {
    const parsed = parseCommandLine(args);
    if ("output" in parsed) {
      io.stdout(parsed.output);
      return EXIT.ok;
    }
    const { flags } = parsed;
    const settings = resolveSettings(flags, env, { timeZone: io.timeZone });
    const log = createLogger({ format: settings.logFormat, write: io.stderr });
    const commandIo = { stdout: io.stdout, now: io.now, log, isRoot: io.isRoot, pid: io.pid };
    switch (parsed.command) {
      case "now":
        return await commandNow(flags, settings, env, io, log);
      case "run":
        return await runDaemon(settings, originsOf(flags, env), {
          clock: { now: io.now, sleep: systemClock.sleep },
          log,
          pid: io.pid,
          onSignal: io.onSignal,
        });
      case "health":
        return await commandHealth(settings, commandIo);
      case "list":
        return await commandList(settings, flags.remote === true, commandIo);
      case "verify":
        return await commandVerify(settings, parsed.operands, {
          all: flags.all === true,
          remote: flags.remote === true,
        }, commandIo);
      case "restore":
        return await commandRestore(settings, parsed.operands[0] ?? "", flags.to ?? "", commandIo);
      case "prune":
        return await commandPrune(settings, flags.dryRun === true, commandIo);
    }
  } catch (err) {
    if (
      err instanceof ConfigError || err instanceof UsageError || err instanceof LockHeldError ||
      err instanceof RunError
    ) {
      plain(err.message);
    } else {
      plain(`unexpected error: ${describeError(err)}`);
    }
    return EXIT.failed;
  }
}
