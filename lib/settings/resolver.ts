// Reads each setting from its flag, then its variable (README: Settings), and records where
// each value came from, so that `config` and messages name the origin the resolver saw.

import { ConfigError } from "../base/errors.ts";
import type { Secret } from "../base/secret.ts";
import { type Env, flagName, type Flags, type SettingKey, specOf } from "./catalog.ts";

/** A setting's value as given, and the flag or variable that gave it. */
export interface Picked {
  /** The value as written. */
  value: string;
  /** The flag or variable it came from, for error messages. */
  from: string;
}

/** Where a setting came from: its flag, its variable, or the file its `_FILE` variable names. */
export type Origin =
  | { kind: "flag"; name: string }
  | { kind: "environment"; name: string }
  | { kind: "file"; name: string; file: string };

/** A setting that was given: its value as written and where it came from. */
export interface Given {
  /** The value as written; a list joined by commas; empty for a secret. */
  value: string;
  /** Where it came from. */
  origin: Origin;
}

const TRUE = new Set(["1", "true", "yes", "on"]);
const FALSE = new Set(["0", "false", "no", "off"]);

/**
 * Reads settings from flags and the environment by their catalog entry, and keeps a record
 * of every setting it found given (`given`).
 *
 * @example Flag over environment
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * const r = new Resolver({ dest: "/b" }, { BACKUP_DEST: "/a", BACKUP_SOURCE: "/srv" });
 * assertEquals(r.pick("dest"), { value: "/b", from: "--dest" });
 * assertEquals(r.pick("source"), { value: "/srv", from: "BACKUP_SOURCE" });
 * assertEquals(r.given.get("source")?.origin, { kind: "environment", name: "BACKUP_SOURCE" });
 * ```
 */
export class Resolver {
  /** Each setting found given, by key, in the order read. */
  readonly given: Map<SettingKey, Given> = new Map();
  readonly #flags: Flags;
  readonly #env: Env;

  /** A resolver over these flags and this environment. */
  constructor(flags: Flags, env: Env) {
    this.#flags = flags;
    this.#env = env;
  }

  /** A setting's value from its flag, else its variable (an empty variable is unset). */
  pick(key: SettingKey): Picked | undefined {
    const flag = this.#flags[key];
    if (typeof flag === "string") return this.#note(key, flag, this.#flagOrigin(key));
    const env = specOf(key).env;
    const fromEnv = env === undefined ? undefined : this.#env[env];
    if (env === undefined || fromEnv === undefined || fromEnv === "") return undefined;
    return this.#note(key, fromEnv, { kind: "environment", name: env });
  }

  /** A folder setting; an empty one is refused rather than read as the working folder. */
  folder(key: SettingKey): string | undefined {
    const env = specOf(key).env;
    const flag = this.#flags[key];
    if (flag === "" || (flag === undefined && env !== undefined && this.#env[env] === "")) {
      throw new ConfigError(
        flag === "" ? this.#flagName(key) : env as string,
        "",
        "expected a folder",
      );
    }
    return this.pick(key)?.value;
  }

  /**
   * A repeatable flag, else its variable as a list separated by `separator` (commas unless
   * told); empty items dropped.
   */
  list(key: SettingKey, separator = ","): { values: string[]; from: string } {
    const flag = this.#flags[key];
    if (Array.isArray(flag) && flag.length > 0) {
      this.#note(key, flag.join(","), this.#flagOrigin(key));
      return { values: flag, from: this.#flagName(key) };
    }
    const env = specOf(key).env as string;
    const values = (this.#env[env] ?? "").split(separator).map((s) => s.trim()).filter((s) =>
      s !== ""
    );
    if (values.length > 0) {
      this.#note(key, values.join(separator), { kind: "environment", name: env });
    }
    return { values, from: env };
  }

  /** A switch: its flag, else its variable read as a boolean, else `fallback`. */
  bool(key: SettingKey, fallback: boolean): boolean {
    const flag = this.#flags[key];
    if (typeof flag === "boolean") {
      const name = flag ? this.#flagName(key) : specOf(key).negation?.flag ?? this.#flagName(key);
      this.#note(key, String(flag), { kind: "flag", name });
      return flag;
    }
    const env = specOf(key).env as string;
    const raw = this.#env[env];
    if (raw === undefined || raw === "") return fallback;
    const lower = raw.trim().toLowerCase();
    if (!TRUE.has(lower) && !FALSE.has(lower)) {
      throw new ConfigError(env, raw, "expected true or false");
    }
    this.#note(key, raw, { kind: "environment", name: env });
    return TRUE.has(lower);
  }

  /** A whole number, if given. */
  wholeNumber(key: SettingKey): number | undefined {
    const picked = this.pick(key);
    if (!picked) return undefined;
    const n = Number(picked.value);
    if (!/^\s*\d+\s*$/.test(picked.value) || !Number.isSafeInteger(n)) {
      throw new ConfigError(picked.from, picked.value, "expected a whole number");
    }
    return n;
  }

  /** An http:// or https:// address, if given. */
  httpUrl(key: SettingKey): Picked | undefined {
    const picked = this.pick(key);
    if (picked && !/^https?:$/.test(URL.parse(picked.value)?.protocol ?? "")) {
      throw new ConfigError(picked.from, picked.value, "expected an http:// or https:// address");
    }
    return picked;
  }

  /** A secret from its variable, or the file its `_FILE` variable names (read when used). */
  secret(key: SettingKey): Secret | undefined {
    const name = specOf(key).env as string;
    const value = this.#env[name];
    const file = this.#env[`${name}_FILE`];
    if (value && file) {
      throw new ConfigError(`${name}_FILE`, file, `give ${name} or ${name}_FILE, not both`);
    }
    if (value) {
      this.#note(key, "", { kind: "environment", name });
      return { value };
    }
    if (!file) return undefined;
    this.#note(key, "", { kind: "file", name: `${name}_FILE`, file });
    return { file, from: `${name}_FILE` };
  }

  #flagName(key: SettingKey): string {
    return flagName(key) ?? key;
  }

  #flagOrigin(key: SettingKey): Origin {
    return { kind: "flag", name: this.#flagName(key) };
  }

  #note(key: SettingKey, value: string, origin: Origin): Picked {
    this.given.set(key, { value, origin });
    return { value, from: origin.name };
  }
}
