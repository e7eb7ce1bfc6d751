// The command line: commander, built from the commands' table, parses it (a pure step tests
// can call), then the command runs and its result or error becomes an exit code. Only
// main.ts exits.

import { Command as Commander, CommanderError, Option } from "commander";
import {
  ConfigError,
  describeError,
  EXIT,
  LockHeldError,
  permissionProblem,
  RunError,
  UsageError,
} from "../base/errors.ts";
import { createLogger, formatLine } from "../base/log.ts";
import {
  type Env,
  type Flags,
  helpLine,
  type SettingKey,
  SETTINGS,
  specOf,
} from "../settings/catalog.ts";
import { resolveSettings } from "../settings/settings.ts";
import denoJson from "../../deno.json" with { type: "json" };
import type { Command, CommandOption, CommandOptions } from "./command.ts";
import { configCommand } from "./config.ts";
import { walCommand } from "./wal.ts";
import { drillCommand } from "./drill.ts";
import { dumpCommand } from "./dump.ts";
import { healthCommand } from "./health.ts";
import type { Io } from "./io.ts";
import { listCommand } from "./list.ts";
import { nowCommand } from "./now.ts";
import { pruneCommand } from "./prune.ts";
import { restoreCommand } from "./restore.ts";
import { runCommand } from "./run.ts";
import { nearestName } from "../base/suggest.ts";
import { verifyCommand } from "./verify.ts";

/** The program's version, from deno.json. */
export const VERSION: string = denoJson.version;

/** The commands, in the order help shows them. */
export const COMMANDS: readonly Command[] = [
  nowCommand,
  runCommand,
  healthCommand,
  listCommand,
  verifyCommand,
  restoreCommand,
  pruneCommand,
  configCommand,
  walCommand,
  drillCommand,
  dumpCommand,
];

/** What no command means (without a terminal): the daemon, as the image's `CMD ["run"]`. */
const DEFAULT_COMMAND = runCommand;

/** What the command line asked for. */
export interface Invocation {
  /** The command. */
  command: Command;
  /** The settings' flags. */
  flags: Flags;
  /** The command's own options. */
  options: CommandOptions;
  /** Its operands. */
  operands: string[];
}

/** Text a parse printed instead of an invocation (help, version). */
export interface Printed {
  /** What to print on stdout. */
  output: string;
}

const collect = (value: string, previous: string[] | undefined): string[] => [
  ...(previous ?? []),
  value,
];

/** Adds a setting's flag (and its negation) to a command, with its help from the catalog. */
function addSetting(cmd: Commander, key: SettingKey): void {
  const spec = specOf(key);
  if (spec.flag === undefined) return;
  const option = new Option(spec.flag, helpLine(key));
  if (spec.kind === "list") option.argParser(collect);
  cmd.addOption(spec.hidden ? option.hideHelp() : option);
  if (spec.negation) cmd.option(spec.negation.flag, spec.negation.help);
}

/** Adds a command's own option. */
function addOption(cmd: Commander, option: CommandOption): void {
  const made = new Option(option.flag, option.help).makeOptionMandatory(option.required === true);
  cmd.addOption(option.repeatable ? made.argParser(collect) : made);
}

/** Splits commander's values into the settings' flags and the command's own options. */
function invocationOf(command: Command, cmd: Commander): Invocation {
  const flags: Record<string, unknown> = {};
  const options: CommandOptions = {};
  for (const [name, value] of Object.entries(cmd.opts())) {
    if (Object.hasOwn(SETTINGS, name)) flags[name] = value;
    else options[name] = value as CommandOptions[string];
  }
  const operands = cmd.processedArgs.flat().filter((arg) => typeof arg === "string");
  return { command, flags: flags as Flags, options, operands };
}

/**
 * Commander's program for the commands' table: each command with its settings' flags, its
 * own options and its operands; `run` the default.
 */
function buildProgram(write: (text: string) => void, onParsed: (i: Invocation) => void) {
  const program = new Commander("backupd")
    .description("Timely, verified .tar.gz backups of a data folder.")
    .version(VERSION, "--version")
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({ writeOut: write, writeErr: write, outputError: () => undefined });
  for (const command of COMMANDS) {
    const cmd = program.command(command.name, { isDefault: command === DEFAULT_COMMAND })
      .description(command.description)
      .exitOverride()
      .configureOutput({ writeOut: write, writeErr: write });
    for (const key of command.settings) addSetting(cmd, key);
    if (command.operands) cmd.argument(command.operands.spec, command.operands.help);
    for (const option of Object.values(command.options ?? {})) addOption(cmd, option);
    cmd.action((..._args: unknown[]) => onParsed(invocationOf(command, cmd)));
  }
  return program;
}

/**
 * Parses the command line without side effects.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * const parsed = parseCommandLine(["restore", "latest", "--to", "/srv/r", "--dest", "/b"]);
 * assertEquals("command" in parsed && [parsed.command.name, parsed.flags, parsed.options, parsed.operands], [
 *   "restore", { dest: "/b" }, { to: "/srv/r" }, ["latest"],
 * ]);
 * ```
 */
export function parseCommandLine(args: readonly string[]): Invocation | Printed {
  let invocation: Invocation | undefined;
  let output = "";
  const program = buildProgram((text) => output += text, (parsed) => invocation = parsed);
  const first = args[0];
  // `backupd help [command]`, as --help lists it: that command's help, or the program's.
  if (first === "help" && args.length <= 2) {
    return parseCommandLine([...args.slice(1), "--help"]);
  }
  // A word where the command goes that is none: the default command (run) would take it
  // for an operand and say "too many arguments".
  const names = COMMANDS.map((command) => command.name);
  if (first !== undefined && !first.startsWith("-") && !names.includes(first)) {
    const near = nearestName(first, names);
    throw new UsageError(
      `Cannot parse the command line: unknown command '${first}'${
        near ? ` (did you mean ${near}?)` : ""
      }; the commands are ${names.join(", ")}`,
    );
  }
  try {
    program.parse([...args], { from: "user" });
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    if (err.exitCode === 0) return { output };
    // One line: commander puts its suggestion on a line of its own.
    const message = err.message.replace(/^error: /, "").replace(
      /\n\(Did you mean (.*)\?\)/,
      " (did you mean $1?)",
    );
    throw new UsageError(`Cannot parse the command line: ${message}`, { cause: err });
  }
  return invocation ?? { output: program.helpInformation() };
}

/** The log format asked for before the settings are read, so that early failures follow it. */
function askedLogFormat(args: readonly string[], env: Env): string | undefined {
  const flagAt = args.lastIndexOf("--log-format");
  if (flagAt >= 0) return args[flagAt + 1];
  return args.findLast((a) => a.startsWith("--log-format="))?.slice(13) ?? env.BACKUP_LOG_FORMAT;
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
  const json = askedLogFormat(args, env) === "json";
  const plain = (message: string) =>
    io.stderr(
      json
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
    const settings = resolveSettings(parsed.flags, env, {
      timeZone: io.timeZone,
      ...(env.HOME ? { home: env.HOME } : {}),
      tempDir: env.TMPDIR || "/tmp",
    });
    const log = createLogger({ format: settings.logFormat, write: io.stderr });
    return await parsed.command.run({
      settings,
      options: parsed.options,
      operands: parsed.operands,
      io,
      log,
      stdout: io.stdout,
      now: io.now,
      isRoot: io.isRoot,
      pid: io.pid,
    });
  } catch (err) {
    const known = err instanceof ConfigError || err instanceof UsageError ||
      err instanceof LockHeldError || err instanceof RunError;
    // A permission problem is the operator's to fix: one line naming the path, not a bug.
    plain(
      known ? err.message : permissionProblem(err) ?? `unexpected error: ${describeError(err)}`,
    );
    return EXIT.failed;
  }
}
