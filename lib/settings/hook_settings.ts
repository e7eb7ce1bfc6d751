// The pre- and post-hook, split into words as a shell would, and how long each may run.

import { ConfigError, describeError } from "../base/errors.ts";
import { splitWords } from "../base/shell_words.ts";
import { SETTINGS } from "./catalog.ts";
import type { Picked, Resolver } from "./resolver.ts";

/** The hooks around a run. */
export interface HookSettings {
  /** The pre-hook's words, if any. */
  preHook?: string[];
  /** The post-hook's words, if any. */
  postHook?: string[];
  /** How long a hook may run. */
  hookTimeoutMs: number;
}

function hookWords(picked: Picked): string[] {
  let words: string[];
  try {
    words = splitWords(picked.value);
  } catch (err) {
    const detail = describeError(err).replace(/^Cannot split the command: /, "");
    throw new ConfigError(picked.from, picked.value, detail, { cause: err });
  }
  if (words.length === 0) throw new ConfigError(picked.from, picked.value, "expected a command");
  return words;
}

/**
 * The pre- and post-hook, split into words, and how long each may run.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { Resolver } from "./resolver.ts";
 * assertEquals(hookSettings(new Resolver({ preHook: "sh -c 'sync'" }, {})), {
 *   preHook: ["sh", "-c", "sync"],
 *   hookTimeoutMs: 900_000,
 * });
 * ```
 */
export function hookSettings(r: Resolver): HookSettings {
  const pre = r.pick("preHook");
  const post = r.pick("postHook");
  const seconds = r.wholeNumber("hookTimeout") ?? Number(SETTINGS.hookTimeout.default);
  if (seconds === 0) {
    throw new ConfigError(
      r.pick("hookTimeout")?.from ?? "--hook-timeout",
      "0",
      "expected at least 1 second",
    );
  }
  return {
    ...(pre ? { preHook: hookWords(pre) } : {}),
    ...(post ? { postHook: hookWords(post) } : {}),
    hookTimeoutMs: seconds * 1000,
  };
}
