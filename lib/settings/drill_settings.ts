// Restore drills (README: Restore drills): where the scratch folder goes, the checks the
// restored database must pass and in which database, PostgreSQL's programs, when the
// daemon drills, and how old the last passed drill may be for `health`.

import { ConfigError } from "../base/errors.ts";
import type { Resolver } from "./resolver.ts";
import { checkSchedule, parseDuration } from "./value_checks.ts";
import { parsePostgresUrl } from "./postgres_settings.ts";

/** What a restore drill takes. */
export interface DrillSettings {
  /** The folder the scratch folder is made in. */
  drillDir: string;
  /** Queries that must answer true in the first value of their one row. */
  drillChecks: string[];
  /** The database the checks run in. */
  drillDatabase: string;
  /** PostgreSQL's programs, when given. */
  pgBin?: string;
  /** When the daemon drills (cron, in --tz); none: it does not. */
  drillSchedule?: string;
  /** `health`: unhealthy without a passed drill this recent, ms; none: not judged. */
  drillMaxAgeMs?: number;
}

/**
 * The drill's settings. The checks' variable is separated by `;` (a query may hold commas).
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { Resolver } from "./resolver.ts";
 * const r = new Resolver({ postgres: "postgres://app@db/shop" }, {
 *   BACKUP_DRILL_CHECKS: "SELECT count(*) > 0 FROM staff; SELECT true",
 *   BACKUP_DRILL_MAX_AGE: "8d",
 * });
 * assertEquals(drillSettings(r, "/tmp", "UTC"), {
 *   drillDir: "/tmp",
 *   drillChecks: ["SELECT count(*) > 0 FROM staff", "SELECT true"],
 *   drillDatabase: "shop",
 *   drillMaxAgeMs: 8 * 86_400_000,
 * });
 * ```
 */
export function drillSettings(r: Resolver, tempDir: string, tz: string): DrillSettings {
  const checks = r.list("drillCheck", ";");
  const database = r.pick("drillDatabase")?.value ??
    decodeURIComponent(parsePostgresUrl(r.pick("postgres")?.value ?? "")?.pathname.slice(1) ?? "");
  const pgBin = r.folder("pgBin");
  const maxAge = r.pick("drillMaxAge");
  const schedule = r.pick("drillSchedule");
  const off = (value: string | undefined) => value === undefined || value.trim() === "off";
  if (checks.values.some((sql) => sql.trim() === "")) {
    throw new ConfigError(checks.from, "", "expected a query");
  }
  return {
    drillDir: r.folder("drillDir") ?? tempDir,
    drillChecks: checks.values,
    drillDatabase: database === "" ? "postgres" : database,
    ...(pgBin ? { pgBin } : {}),
    ...(!off(schedule?.value)
      ? { drillSchedule: checkSchedule(schedule?.value as string, schedule?.from as string, tz) }
      : {}),
    ...(!off(maxAge?.value)
      ? { drillMaxAgeMs: parseDuration(maxAge?.value as string, maxAge?.from as string) }
      : {}),
  };
}
