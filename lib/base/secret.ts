// Secrets given in a variable, or in a file that a `..._FILE` variable names (Docker
// secrets): read only when a run needs them, never logged.

import { ConfigError, fsReason } from "./errors.ts";

/** A secret given in a variable, or in a file a `..._FILE` variable names. */
export type Secret = { value: string } | { file: string; from: string };

/**
 * The secret's text; a file's content without surrounding white space.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(await readSecret({ value: "s3cret" }), "s3cret");
 * ```
 */
export async function readSecret(secret: Secret): Promise<string> {
  if ("value" in secret) return secret.value;
  try {
    return (await Deno.readTextFile(secret.file)).trim();
  } catch (err) {
    const detail = err instanceof Deno.errors.NotFound ? "no such file" : fsReason(err);
    throw new ConfigError(secret.from, secret.file, detail, { cause: err });
  }
}
