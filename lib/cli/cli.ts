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
import { createLogger, formatLine } from "../base/log.ts";
import { resolveSettings } from "../settings/settings.ts";
import type { Env, Flags } from "../settings/flags.ts";
import denoJson from "../../deno.json" with { type: "json" };
import type { Io } from "./io.ts";
import { BACKUP_OPTIONS, withOptions } from "./options.ts";
import { commandNow, originsOf } from "./now.ts";
import { commandConfig } from "./config.ts";
import { type CommandName, COMMANDS, nearestCommand } from "./suggest.ts";

export type { CommandName } from "./suggest.ts";

/** The program's version, from deno.json. */
export const VERSION: string = denoJson.version;

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
    .showSuggestionAfterError(true)
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
    [...BACKUP_OPTIONS, "schedule", "daemonStart", "metricsListen"],
  ).action(record("run"));
  withOptions(
    define("health", "exit 0 when backups are current, else 1, with one line saying why"),
    ["dest", "tz", "schedule", "logFormat"],
  )
    .option("--json", "print the verdict as one JSON object")
    .action(record("health"));
  withOptions(
    define("list", "archives under DEST, newest first: name, size, age, kind, where"),
    ["dest", "tz", "logFormat", "s3"],
  )
    .option("--remote", "list the archives in the bucket of --s3-url instead")
    .option("--json", "print the archives as one JSON object")
    .action(record("list"));
  withOptions(
    define("verify", "check archives (the newest when none is named)"),
    ["dest", "logFormat", "s3", "identity"],
  )
    .argument("[archive...]", "archive paths, names relative to DEST, or s3:// addresses")
    .option("--all", "check every archive under DEST")
    .option("--remote", "check archives in the bucket of --s3-url (names relative to it)")
    .option("--json", "print the verdicts as one JSON object")
    .action((archives: string[], flags: Flags) => {
      invocation = { command: "verify", flags, operands: archives };
    });
  withOptions(
    define("restore", "extract an archive safely into DIR, which must not exist or be empty"),
    ["dest", "logFormat", "s3", "identity"],
  )
    .argument("<archive>", "archive path, name relative to DEST, or s3:// address")
    .requiredOption("--to <dir>", "folder to restore into")
    .option(
      "--include <path>",
      "restore only this file or folder (a path below the archive's top folder); repeatable",
      (path: string, paths: string[] = []) => [...paths, path],
    )
    .action((archive: string, flags: Flags) => {
      invocation = { command: "restore", flags, operands: [archive] };
    });
  withOptions(
    define("prune", "apply the retention policy, listing keep/remove with reasons"),
    ["dest", "tz", "logFormat", "keep", "s3"],
  )
    .option("--dry-run", "print the plan and change nothing")
    .option("--json", "print the plan as one JSON object")
    .action(record("prune"));
  withOptions(
    define(
      "config",
      "every effective setting and where it comes from (flag, environment, file, default), secrets masked",
    ),
    [...BACKUP_OPTIONS, "schedule", "daemonStart", "metricsListen", "identity"],
  )
    .option("--json", "print the settings as one JSON object")
    .action(record("config"));

  // A word where the command goes that is none: the default command (run) would take it
  // for an operand and say "too many arguments".
  const first = args[0];
  if (first !== undefined && !first.startsWith("-") && !COMMANDS.includes(first as CommandName)) {
    const near = nearestCommand(first);
    throw new UsageError(
      `Cannot parse the command line: unknown command '${first}'${
        near ? ` (did you mean ${near}?)` : ""
      }; the commands are ${COMMANDS.join(", ")}`,
    );
  }
  try {
    program.parse([...args], { from: "user" });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return { output };
      // One line: commander puts its suggestion on a line of its own.
      const message = err.message.replace(/^error: /, "").replace(
        /\n\(Did you mean (.*)\?\)/,
        " (did you mean $1?)",
      );
      throw new UsageError(`Cannot parse the command line: ${message}`, { cause: err });
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
  // Under --log-format json (or BACKUP_LOG_FORMAT=json), a failure is a JSON line too, even
  // one met before the settings are read.
  const flagAt = args.lastIndexOf("--log-format");
  const asked = flagAt >= 0
    ? args[flagAt + 1]
    : args.findLast((a) => a.startsWith("--log-format="))?.slice(13) ?? env.BACKUP_LOG_FORMAT;
  const plain = (message: string) =>
    io.stderr(
      asked === "json"
        ? `${formatLine("json", new Date(io.now()), "error", `backupd: ${message}`)}\n`
        : `backupd: ${message}\n`,
    );
  try {
    // Typed at a terminal without a command: usage, not a daemon that waits for 01:00.
    // Without a terminal (a container, a service) no command still means run.
    if (args.length === 0 && io.interactive === true) {
      const help = parseCommandLine(["--help"]) as Printed;
      io.stdout(`${help.output}\nThe daemon is "backupd run"; one backup now is "backupd now".\n`);
      return EXIT.ok;
    }
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
        return await commandHealth(settings, commandIo, flags.json === true);
      case "list":
        return await commandList(settings, {
          remote: flags.remote === true,
          json: flags.json === true,
        }, commandIo);
      case "verify":
        return await commandVerify(settings, parsed.operands, {
          all: flags.all === true,
          remote: flags.remote === true,
          json: flags.json === true,
        }, commandIo);
      case "restore":
        return await commandRestore(
          settings,
          parsed.operands[0] ?? "",
          flags.to ?? "",
          commandIo,
          flags.include ?? [],
        );
      case "config":
        return commandConfig(settings, flags, env, flags.json === true, io);
      case "prune":
        return await commandPrune(settings, flags.dryRun === true, commandIo, flags.json === true);
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
