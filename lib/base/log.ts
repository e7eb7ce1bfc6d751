// One line per event on stderr, as text or JSON, with the clock and the sink injected
// so tests can read exactly what an operator would see.

/** Field values a log line can carry. */
export type LogFields = Record<string, string | number | boolean | null | undefined>;

/** Log levels, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** The output formats of `--log-format`. */
export type LogFormat = "text" | "json";

/** Writes one event per line. */
export interface Logger {
  /** Something happened as planned. */
  info(message: string, fields?: LogFields): void;
  /** Something the operator should look at; the run goes on. */
  warn(message: string, fields?: LogFields): void;
  /** Something failed. */
  error(message: string, fields?: LogFields): void;
}

/** Options of {@linkcode createLogger}. */
export interface LoggerOptions {
  /** Output format. @default {"text"} */
  format?: LogFormat;
  /** Clock for the time stamp. @default {() => new Date()} */
  now?: () => Date;
  /** Called with each line, newline included. @default {writing to stderr} */
  write?: (line: string) => void;
}

const encoder = new TextEncoder();

/**
 * Writes all of `text` to stderr, synchronously so lines never interleave.
 *
 * @example
 * ```ts ignore
 * writeStderr("hello\n");
 * ```
 */
export function writeStderr(text: string): void {
  writeAllSync(Deno.stderr, text);
}

/**
 * Writes all of `text` to a synchronous sink (stdout, stderr), however many calls it takes.
 *
 * @example
 * ```ts ignore
 * writeAllSync(Deno.stdout, "OK\n");
 * ```
 */
export function writeAllSync(sink: { writeSync(p: Uint8Array): number }, text: string): void {
  let bytes = encoder.encode(text);
  while (bytes.length > 0) bytes = bytes.subarray(sink.writeSync(bytes));
}

function quote(value: string): string {
  return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
}

/**
 * Formats one event as a line (without the newline).
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(
 *   formatLine("text", new Date(0), "warn", "file grew", { path: "data/a b" }),
 *   '1970-01-01T00:00:00.000Z WARN file grew path="data/a b"',
 * );
 * ```
 */
export function formatLine(
  format: LogFormat,
  time: Date,
  level: LogLevel,
  message: string,
  fields: LogFields = {},
): string {
  const defined = Object.entries(fields).filter(([, v]) => v !== undefined);
  if (format === "json") {
    return JSON.stringify({
      level,
      time: time.toISOString(),
      message,
      ...Object.fromEntries(defined),
    });
  }
  const parts = [time.toISOString(), level.toUpperCase(), message];
  for (const [key, value] of defined) parts.push(`${key}=${quote(String(value))}`);
  return parts.join(" ");
}

/**
 * Creates a logger writing to stderr (or to `write`).
 *
 * @example
 * ```ts ignore
 * const log = createLogger({ format: "json" });
 * log.info("backup started", { source: "/data" });
 * ```
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const format = options.format ?? "text";
  const now = options.now ?? (() => new Date());
  const write = options.write ?? writeStderr;
  const emit = (level: LogLevel, message: string, fields?: LogFields) => {
    write(formatLine(format, now(), level, message, fields) + "\n");
  };
  return {
    info: (message, fields) => emit("info", message, fields),
    warn: (message, fields) => emit("warn", message, fields),
    error: (message, fields) => emit("error", message, fields),
  };
}

/**
 * An instant as logs and messages write it: ISO 8601 in UTC, or "never".
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(isoTime(Date.UTC(2027, 0, 2, 1)), "2027-01-02T01:00:00.000Z");
 * assertEquals(isoTime(undefined), "never");
 * ```
 */
export function isoTime(ms: number | undefined): string {
  return ms === undefined ? "never" : new Date(ms).toISOString();
}
