// The command line: commander parses it (a pure step tests can call), then the command
// runs and its result or error becomes an exit code. Only main.ts exits.

import { Command, CommanderError, Option } from "commander";
import { type DaemonSignal, runDaemon, systemClock } from "../daemon/daemon.ts";
import {
  ConfigError,
  describeError,
  EXIT,
  LockHeldError,
  RunError,
  STOP_CODES,
  UsageError,
} from "../base/errors.ts";
import {
  commandHealth,
  commandList,
  commandPrune,
  commandRestore,
  commandVerify,
} from "./commands.ts";
import { createLogger, type Logger } from "../base/log.ts";
import { type ProgressBar, startProgress } from "../base/progress.ts";
import { runBackup, type RunReport } from "../run/run.ts";
import { type Env, type Flags, resolveSettings, type Settings } from "../settings/settings.ts";
import denoJson from "../../deno.json" with { type: "json" };

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
  /** Whether this process runs as root. */
  isRoot: boolean;
  /** Registers a signal handler; returns its remover. */
  onSignal: (signal: DaemonSignal, handler: () => void) => () => void;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function pathOptions(cmd: Command): Command {
  return cmd
    .option("--source <dir>", "folder to back up (BACKUP_SOURCE, default /data)")
    .option("--dest <dir>", "where archives go (BACKUP_DEST, default /backup)")
    .addOption(new Option("--default-source <dir>").hideHelp())
    .addOption(new Option("--default-dest <dir>").hideHelp())
    .option(
      "--tz <zone>",
      "IANA zone for archive names and the schedule (TZ, default the system's)",
    )
    .option("--log-format <format>", "text or json (BACKUP_LOG_FORMAT, default text)");
}

function archiveOptions(cmd: Command): Command {
  return cmd
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
    .option(
      "--ping-url <url>",
      "healthchecks-style pings: URL/start, URL, URL/fail (BACKUP_PING_URL)",
    )
    .option("--pre-hook <command>", "run before archiving; failing fails the run (BACKUP_PRE_HOOK)")
    .option(
      "--post-hook <command>",
      "always run after, with BACKUP_STATUS and BACKUP_ARCHIVE (BACKUP_POST_HOOK)",
    )
    .option(
      "--hook-timeout <seconds>",
      "how long a hook may run (BACKUP_HOOK_TIMEOUT, default 900)",
    )
    .option(
      "--age-recipient <key>",
      "encrypt archives to this age public key; repeatable (BACKUP_AGE_RECIPIENTS)",
      collect,
    );
}

function s3Options(cmd: Command): Command {
  return cmd
    .option("--s3-url <url>", "off-site copies go to s3://BUCKET/PREFIX (BACKUP_S3_URL)")
    .option(
      "--s3-endpoint <url>",
      "MinIO, Ceph RGW, B2, R2, ... (BACKUP_S3_ENDPOINT, default AWS)",
    )
    .option("--s3-region <region>", "the bucket's region (BACKUP_S3_REGION, default us-east-1)")
    .option(
      "--s3-path-style",
      "path-style requests: https://host/bucket/key (BACKUP_S3_PATH_STYLE)",
    );
}

function postgresOption(cmd: Command): Command {
  return cmd.option(
    "--postgres <url>",
    "consistent online backup through PostgreSQL's backup API: postgres://USER@HOST:PORT/DB; password from PGPASSWORD or PGPASSWORD_FILE (BACKUP_POSTGRES_URL)",
  );
}

function identityOption(cmd: Command): Command {
  return cmd.option(
    "--age-identity <file>",
    "age identity file for encrypted archives (BACKUP_AGE_IDENTITY_FILE)",
  );
}

function scheduleOptions(cmd: Command): Command {
  return cmd.option(
    "--schedule <cron>",
    "5 fields, or 6 with seconds first (BACKUP_SCHEDULE, default 0 1 * * *)",
  );
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
  const define = (name: CommandName, description: string, isDefault = false) =>
    program.command(name, { isDefault }).description(description).exitOverride()
      .configureOutput({ writeOut: (text) => output += text, writeErr: (text) => output += text });
  const record = (command: CommandName) => (flags: Flags, cmd: Command) => {
    invocation = { command, flags, operands: cmd.args };
  };

  postgresOption(s3Options(archiveOptions(
    pathOptions(define("now", "make one backup now (then apply retention when a rule is set)")),
  )))
    .action(record("now"));
  scheduleOptions(
    postgresOption(s3Options(
      archiveOptions(
        pathOptions(define("run", "the daemon: back up at each scheduled slot", true)),
      ),
    )),
  )
    .option(
      "--catch-up",
      "at start, run once if a slot passed since the newest archive (BACKUP_CATCH_UP, default on)",
    )
    .option("--no-catch-up", "do not catch up at start")
    .option("--run-on-start", "back up once at start (BACKUP_RUN_ON_START)")
    .action(record("run"));
  scheduleOptions(
    pathOptions(
      define("health", "exit 0 when backups are current, else 1, with one line saying why"),
    ),
  )
    .action(record("health"));
  s3Options(pathOptions(define("list", "archives under DEST, newest first: name, size, age")))
    .option("--remote", "list the archives in the bucket of --s3-url instead")
    .action(record("list"));
  identityOption(
    s3Options(pathOptions(define("verify", "check archives (the newest when none is named)"))),
  )
    .argument("[archive...]", "archive paths, names relative to DEST, or s3:// addresses")
    .option("--all", "check every archive under DEST")
    .option("--remote", "check archives in the bucket of --s3-url (names relative to it)")
    .action((archives: string[], flags: Flags) => {
      invocation = { command: "verify", flags, operands: archives };
    });
  identityOption(s3Options(pathOptions(
    define("restore", "extract an archive safely into DIR, which must not exist or be empty"),
  )))
    .argument("<archive>", "archive path, name relative to DEST, or s3:// address")
    .requiredOption("--to <dir>", "folder to restore into")
    .action((archive: string, flags: Flags) => {
      invocation = { command: "restore", flags, operands: [archive] };
    });
  s3Options(archiveOptions(
    pathOptions(define("prune", "apply the retention policy, listing keep/remove with reasons")),
  ))
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

function originsOf(flags: Flags, env: Env) {
  return {
    source: flags.source === undefined && env.BACKUP_SOURCE ? "BACKUP_SOURCE" : "--source",
    dest: flags.dest === undefined && env.BACKUP_DEST ? "BACKUP_DEST" : "--dest",
  };
}

/** Wraps a logger so that log lines and the progress bar do not overwrite each other. */
function aroundBar(log: Logger, bar: () => ProgressBar | undefined): Logger {
  const wrap = (write: Logger["info"]): Logger["info"] => (message, fields) => {
    bar()?.clear();
    write(message, fields);
    bar()?.redraw();
  };
  return { info: wrap(log.info), warn: wrap(log.warn), error: wrap(log.error) };
}

async function commandNow(
  flags: Flags,
  settings: Settings,
  env: Env,
  io: Io,
  log: Logger,
): Promise<number> {
  let bar: ProgressBar | undefined;
  // SIGTERM and SIGINT abandon the run as in the daemon: partial removed, containers
  // resumed, post-hook told the run failed.
  const stop = new AbortController();
  let stoppedBy: keyof typeof STOP_CODES | undefined;
  const stopOn = (signal: keyof typeof STOP_CODES) => () => {
    if (stoppedBy) return;
    stoppedBy = signal;
    log.info("stopping: abandoning the run", { signal });
    stop.abort(new RunError(`Cannot finish the run: interrupted by ${signal}`));
  };
  const removers = [
    io.onSignal("SIGTERM", stopOn("SIGTERM")),
    io.onSignal("SIGINT", stopOn("SIGINT")),
  ];
  let report: RunReport;
  try {
    report = await runBackup(settings, originsOf(flags, env), {
      now: io.now,
      log: aroundBar(log, () => bar),
      holder: `pid ${io.pid} (backupd now)`,
      signal: stop.signal,
      ...(io.stderrIsTerminal
        ? {
          progress: (total: number) =>
            bar = startProgress(total, io.stderr, () => performance.now()),
        }
        : {}),
    });
  } finally {
    for (const remove of removers) remove();
  }
  if (report.result === "failed") {
    const err = report.error;
    if (!stoppedBy && (err instanceof ConfigError || err instanceof LockHeldError)) throw err;
    log.error("backup failed", { error: describeError(err) });
    return stoppedBy ? STOP_CODES[stoppedBy] : EXIT.failed;
  }
  return report.result === "warning" ? EXIT.warnings : EXIT.ok;
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
