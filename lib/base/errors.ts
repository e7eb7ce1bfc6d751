// Error classes that callers are meant to catch, and the exit codes they map to.
// Everything else that escapes a command is an unexpected failure (exit 2).

/** Exit codes (README: Exit codes): done, done with warnings, failed. */
export const EXIT = { ok: 0, warnings: 1, failed: 2 } as const;

/** Exit codes after a stop during a run: 128 + the signal's number. */
export const STOP_CODES = { SIGTERM: 143, SIGINT: 130 } as const;

/**
 * An error named after its class, so that a subclass needs no constructor of its own.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * class PlanError extends NamedError {}
 * assertEquals(new PlanError("Cannot plan: no archive").name, "PlanError");
 * ```
 */
export class NamedError extends Error {
  /** An error with `message`, named after the class it was made as. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * A setting with a bad value: names the setting (flag or variable) and the value.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * const err = new ConfigError("--source", "/nope", "no such folder");
 * assertEquals(err.message, 'Cannot use --source "/nope": no such folder');
 * assertEquals([err.setting, err.value], ["--source", "/nope"]);
 * ```
 */
export class ConfigError extends NamedError {
  /** The flag or environment variable that carried the value. */
  readonly setting: string;
  /** The value as given. */
  readonly value: string;

  /** "Cannot use SETTING "VALUE": DETAIL". */
  constructor(setting: string, value: string, detail: string, options?: ErrorOptions) {
    super(`Cannot use ${setting} "${value}": ${detail}`, options);
    this.setting = setting;
    this.value = value;
  }
}

/**
 * The command line itself is wrong (unknown flag or command, missing argument).
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * const err = new UsageError("Cannot parse arguments: unknown option '--frobnicate'");
 * assertEquals(err.name, "UsageError");
 * ```
 */
export class UsageError extends NamedError {}

/**
 * Another process holds the lock on DEST.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * const err = new LockHeldError("/backup/.backupd/lock", "pid 42");
 * assertEquals(err.message, 'Cannot take the lock "/backup/.backupd/lock": held by pid 42');
 * ```
 */
export class LockHeldError extends NamedError {
  /** Who holds the lock, as written in the lock file. */
  readonly holder: string;

  /** "Cannot take the lock "PATH": held by HOLDER". */
  constructor(path: string, holder: string, options?: ErrorOptions) {
    super(`Cannot take the lock "${path}": held by ${holder}`, options);
    this.holder = holder;
  }
}

/**
 * A backup run failed; the message says which step and why.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * const err = new RunError('Cannot read "data/x": permission denied');
 * assertEquals(err instanceof Error, true);
 * ```
 */
export class RunError extends NamedError {}

/**
 * Describes any thrown value in one line, for logs and the last stderr line.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(describeError(new Error("boom")), "boom");
 * ```
 */
export function describeError(err: unknown): string {
  const denied = permissionProblem(err);
  if (denied) return denied;
  if (err instanceof Error) return err.message.split("\n")[0] ?? err.name;
  return String(err);
}

/** What a file operation was, in words, by the name the OS error gives it. */
const OPERATIONS: Record<string, string> = {
  readdir: "list",
  open: "open",
  stat: "read",
  lstat: "read",
  readlink: "read",
  mkdir: "create",
  rename: "rename",
  remove: "remove",
  unlink: "remove",
  rmdir: "remove",
  chmod: "change the mode of",
  chown: "change the owner of",
  utime: "change the time of",
  symlink: "create",
  link: "create",
};

/**
 * A permission problem as one line naming the path and what to do; none for other errors.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * const err = new Deno.errors.PermissionDenied("Permission denied (os error 13): readdir '/backup/2026-12-03'");
 * assertEquals(
 *   permissionProblem(err),
 *   'Cannot list "/backup/2026-12-03": permission denied; run as root or as the owner of "/backup/2026-12-03"',
 * );
 * assertEquals(permissionProblem(new Error("boom")), undefined);
 * ```
 */
export function permissionProblem(err: unknown): string | undefined {
  const code = (err as { code?: unknown })?.code;
  if (!(err instanceof Deno.errors.PermissionDenied) && code !== "EACCES" && code !== "EPERM") {
    return undefined;
  }
  const message = err instanceof Error ? err.message : String(err);
  // Deno: "Permission denied (os error 13): readdir '/x'"; node:fs: "EACCES: ..., open '/x'".
  const found = /(\w+) '([^']+)'(?: -> '[^']+')?\s*$/.exec(message);
  const path = (err as { path?: unknown })?.path ?? found?.[2];
  if (typeof path !== "string") return undefined;
  const verb = OPERATIONS[found?.[1] ?? ""] ?? "use";
  return `Cannot ${verb} "${path}": permission denied; run as root or as the owner of "${path}"`;
}

/** What an operator can do to a file system, in words. */
const FS_CODES: Record<string, string> = {
  EROFS: "read-only file system",
  ENOSPC: "no space left on device",
  EDQUOT: "disk quota exceeded",
  EIO: "input/output error",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
};

/**
 * Says in words why a file operation failed: no such file, permission denied (and, given
 * the path, what to do), read-only file system, no space left, ...; otherwise the error's
 * own first line.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(fsReason(new Deno.errors.NotFound("x")), "no such file or folder");
 * assertEquals(
 *   fsReason(new Deno.errors.PermissionDenied("x"), "/srv/data"),
 *   'permission denied; run as root or as the owner of "/srv/data"',
 * );
 * ```
 */
export function fsReason(err: unknown, path?: string): string {
  if (err instanceof Deno.errors.NotFound) return "no such file or folder";
  if (err instanceof Deno.errors.PermissionDenied) {
    return path === undefined
      ? "permission denied"
      : `permission denied; run as root or as the owner of "${path}"`;
  }
  if (err instanceof Deno.errors.NotADirectory) return "a path component is not a folder";
  const code = (err as { code?: unknown })?.code;
  if (typeof code === "string" && code in FS_CODES) return FS_CODES[code] as string;
  return describeError(err);
}

/**
 * A request to the object store failed; `permanent` when trying again cannot help (access
 * denied, no such bucket, no credentials).
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * const err = new RemoteError('Cannot list "s3://backups/db/": NoSuchBucket (HTTP 404)', {
 *   permanent: true,
 * });
 * assertEquals([err instanceof RunError, err.permanent], [true, true]);
 * ```
 */
export class RemoteError extends RunError {
  /** Whether trying again cannot help. */
  readonly permanent: boolean;

  /** A failed request; `permanent` when trying again cannot help. */
  constructor(message: string, options: ErrorOptions & { permanent?: boolean } = {}) {
    super(message, options);
    this.permanent = options.permanent ?? false;
  }
}
