// What settings are made from: the flags as commander gave them, the environment, and the
// defaults of the settings table (README: Settings).

/** Flag values as the command line gave them (commander's option names). */
export interface Flags {
  source?: string;
  dest?: string;
  defaultSource?: string;
  defaultDest?: string;
  schedule?: string;
  tz?: string;
  catchUp?: boolean;
  runOnStart?: boolean;
  exclude?: string[];
  keepLast?: string;
  keepDaily?: string;
  keepWeekly?: string;
  keepMonthly?: string;
  compression?: string;
  logFormat?: string;
  pingUrl?: string;
  preHook?: string;
  postHook?: string;
  hookTimeout?: string;
  s3Url?: string;
  s3Endpoint?: string;
  s3Region?: string;
  s3PathStyle?: boolean;
  ageRecipient?: string[];
  ageIdentity?: string;
  postgres?: string;
  /** Command-specific flags (list/verify --remote), verify --all, restore --to, prune --dry-run). */
  remote?: boolean;
  all?: boolean;
  to?: string;
  include?: string[];
  json?: boolean;
  notify?: string[];
  notifyOn?: string;
  metricsListen?: string;
  metricsFile?: string;
  dryRun?: boolean;
}

/** The environment, as a plain map (tests pass their own). */
export type Env = Record<string, string | undefined>;

/** The defaults of the settings table (README: Settings). */
export const DEFAULTS = {
  source: "/data",
  dest: "/backup",
  schedule: "0 1 * * *",
  hookTimeoutSeconds: 900,
  s3Region: "us-east-1",
} as const;
