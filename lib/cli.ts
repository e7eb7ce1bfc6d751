// The command line: commander parses it (a pure step tests can call), then the command
// runs and its result or error becomes an exit code. Only main.ts exits.

import { Command, CommanderError, Option } from "commander";
import { runBackup } from "./run.ts";
import { ConfigError, describeError, EXIT, LockHeldError, RunError, UsageError } from "./errors.ts";
import { createLogger, type Logger } from "./log.ts";
import { startProgress } from "./progress.ts";
import { type Env, type Flags, resolveSettings } from "./settings.ts";
import denoJson from "../deno.json" with { type: "json" };

/** The program's version, from deno.json. */
export const VERSION: string = denoJson.version;

/** What the command line asked for. */
export interface Invocation {
  /** The subcommand. */
  command: "now";
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

/** The world a command runs in. */
export interface Io {
  /** Writes to stdout. */
  stdout: (text: string) => void;
  /** Writes to stderr. */
  stderr: (text: string) => void;
  /** Whether stderr is a terminal (for the progress bar). */
  stderrIsTerminal: boolean;
  /** The clock, in epoch milliseconds. */
  now: () => number;
  /** The system's time zone. */
  timeZone: string;
  /** This process's id. */
  pid: number;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function settingsOptions(cmd: Command): Command {
  return cmd
    .option("--source <dir>", "folder to back up (BACKUP_SOURCE, default /data)")
    .option("--dest <dir>", "where archives go (BACKUP_DEST, default /backup)")
    .addOption(new Option("--default-source <dir>").hideHelp())
    .addOption(new Option("--default-dest <dir>").hideHelp())
    .option(
      "--tz <zone>",
      "IANA zone for archive names and the schedule (TZ, default the system's)",
    )
    .option(
      "--exclude <glob>",
      "leave out paths relative to the source; repeatable (BACKUP_EXCLUDE)",
      collect,
    )
    .option("--keep-last <n>", "retention: keep the N newest (BACKUP_KEEP_LAST)")
    .option("--keep-daily <n>", "retention: newest of each of N days (BACKUP_KEEP_DAILY)")
    .option("--keep-weekly <n>", "retention: newest of each of N ISO weeks (BACKUP_KEEP_WEEKLY)")
    .option("--keep-monthly <n>", "retention: newest of each of N months (BACKUP_KEEP_MONTHLY)")
    .option("--compression <kind>", "gzip (BACKUP_COMPRESSION, default gzip)")
    .option("--log-format <format>", "text or json (BACKUP_LOG_FORMAT, default text)");
}

/**
 * Parses the command line without side effects.
 *
 * @example
 * ```ts
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
  settingsOptions(
    program.command("now")
      .description("make one backup now (then apply retention when a rule is set)")
      .exitOverride(),
  ).action((flags: Flags, cmd: Command) => {
    invocation = { command: "now", flags, operands: cmd.args };
  });
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
  if (!invocation) {
    return { output: program.helpInformation() };
  }
  return invocation;
}

async function commandNow(invocation: Invocation, env: Env, io: Io, log: Logger): Promise<number> {
  const { flags } = invocation;
  const settings = resolveSettings(flags, env, { timeZone: io.timeZone });
  const origins = {
    source: flags.source !== undefined
      ? "--source"
      : env.BACKUP_SOURCE
      ? "BACKUP_SOURCE"
      : "source",
    dest: flags.dest !== undefined ? "--dest" : env.BACKUP_DEST ? "BACKUP_DEST" : "dest",
  };
  const runLog = createLogger({ format: settings.logFormat, write: io.stderr });
  let bar: ReturnType<typeof startProgress> | undefined;
  const barredLog: Logger = {
    info: (m, f) => (bar?.clear(), runLog.info(m, f), bar?.redraw()),
    warn: (m, f) => (bar?.clear(), runLog.warn(m, f), bar?.redraw()),
    error: (m, f) => (bar?.clear(), runLog.error(m, f), bar?.redraw()),
  };
  try {
    const outcome = await runBackup(settings, origins, {
      now: io.now,
      log: barredLog,
      holder: `pid ${io.pid}`,
      ...(io.stderrIsTerminal
        ? {
          progress: (total: number) =>
            bar = startProgress(total, io.stderr, () => performance.now()),
        }
        : {}),
    });
    return outcome.warnings.length > 0 ? EXIT.warnings : EXIT.ok;
  } catch (err) {
    bar?.stop();
    bar = undefined;
    if (err instanceof ConfigError) throw err;
    log.error("backup failed", { error: describeError(err) });
    return EXIT.failed;
  }
}

/**
 * Runs the command line and returns the exit code; never throws.
 *
 * @example
 * ```ts
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
    const format = env.BACKUP_LOG_FORMAT === "json" || parsed.flags.logFormat === "json"
      ? "json"
      : "text";
    const log = createLogger({ format, write: io.stderr });
    return await commandNow(parsed, env, io, log);
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
