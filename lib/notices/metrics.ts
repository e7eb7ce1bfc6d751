// Prometheus metrics of the runs, through prom-client (loaded only when asked for): served
// on /metrics by the daemon (`--metrics-listen`) and written after every run as a
// node_exporter textfile (`--metrics-file`) (README: Metrics).

import { basename, dirname } from "node:path";
import type { Logger } from "../base/log.ts";
import { describeError, fsReason, RunError } from "../base/errors.ts";
import type { Settings } from "../settings/settings.ts";
import { listArchives } from "../store/local_store.ts";
import { instantOf } from "../store/names.ts";
import type { RunReport } from "./run_report.ts";
import type { WalState } from "../store/wal_store.ts";

type PromClient = typeof import("prom-client");
type Gauge = InstanceType<PromClient["Gauge"]>;

/** The registry and its metrics, made once per process. */
interface Metrics {
  registry: InstanceType<PromClient["Registry"]>;
  lastRun: Gauge;
  lastSuccess: Gauge;
  duration: Gauge;
  result: Gauge;
  bytesIn: Gauge;
  bytesOut: Gauge;
  archives: Gauge;
  /** Only with a bucket: without one there is no upload to report. */
  upload: Gauge | undefined;
  runs: InstanceType<PromClient["Counter"]>;
  /** Only with WAL archiving on (README: Point-in-time recovery). */
  wal: {
    lastArchived: Gauge;
    lastCycle: Gauge;
    caughtUp: Gauge;
    interval: Gauge;
    lag: Gauge;
    retained: Gauge;
    maxRetained: Gauge;
    broken: Gauge;
    segments: InstanceType<PromClient["Counter"]>;
  } | undefined;
}

let metrics: Promise<Metrics> | undefined;
/** Whether the last success is known to this process (a run of its own, or the archives). */
let successKnown = false;

function makeMetrics(settings: Settings): Promise<Metrics> {
  return metrics ??= (async () => {
    const prom = await import("prom-client");
    const registry = new prom.Registry();
    const gauge = (name: string, help: string) =>
      new prom.Gauge({ name, help, registers: [registry] });
    return {
      registry,
      lastRun: gauge("backupd_last_run_timestamp_seconds", "When the last run ended."),
      lastSuccess: gauge(
        "backupd_last_success_timestamp_seconds",
        "When the last run that made an archive ended.",
      ),
      duration: gauge("backupd_last_run_duration_seconds", "How long the last run took."),
      result: gauge(
        "backupd_last_run_result",
        "The last run's result as its exit code: 0 ok, 1 warnings, 2 failed.",
      ),
      bytesIn: gauge("backupd_last_run_bytes_in", "Bytes of file content the last archive read."),
      bytesOut: gauge("backupd_last_run_bytes_out", "Bytes of the last archive."),
      archives: gauge("backupd_archives", "Archives under DEST after the last run."),
      upload: settings.s3
        ? gauge(
          "backupd_last_upload_success",
          "1 when the last run's archive is in the bucket of --s3-url, 0 when not.",
        )
        : undefined,
      runs: new prom.Counter({
        name: "backupd_runs_total",
        help: "Runs of this process, by result.",
        labelNames: ["result"],
        registers: [registry],
      }),
      wal: settings.wal
        ? walGauges(gauge, (name, help) => new prom.Counter({ name, help, registers: [registry] }))
        : undefined,
    };
  })();
}

/** The WAL archiving gauges (README: Point-in-time recovery), made with `gauge`. */
function walGauges(
  gauge: (name: string, help: string) => Gauge,
  counter: (name: string, help: string) => InstanceType<PromClient["Counter"]>,
): NonNullable<Metrics["wal"]> {
  return {
    lastArchived: gauge(
      "backupd_wal_last_archived_timestamp_seconds",
      "When WAL was last stored under DEST/wal (a segment or the partial copy).",
    ),
    lastCycle: gauge(
      "backupd_wal_last_cycle_timestamp_seconds",
      "When the last WAL archiving cycle ended (an idle one included).",
    ),
    caughtUp: gauge(
      "backupd_wal_caught_up_timestamp_seconds",
      "The moment whose flushed WAL a cycle last stored all of.",
    ),
    interval: gauge("backupd_wal_interval_seconds", "--wal-interval."),
    lag: gauge(
      "backupd_wal_lag_bytes",
      "Bytes of WAL the server has written that are not stored yet.",
    ),
    retained: gauge(
      "backupd_wal_slot_retained_bytes",
      "Bytes of WAL the replication slot holds on the server.",
    ),
    maxRetained: gauge(
      "backupd_wal_max_retained_bytes",
      "--wal-max-retained: more held by the slot is a warning.",
    ),
    broken: gauge(
      "backupd_wal_pitr_broken",
      "1 while a gap or a lost slot breaks point-in-time recovery and no base backup since makes it whole.",
    ),
    segments: counter(
      "backupd_wal_segments_archived_total",
      "Whole WAL segments stored by this process.",
    ),
  };
}

/** Whether any metrics are asked for. */
export function metricsWanted(settings: Settings): boolean {
  return settings.metricsFile !== undefined || settings.metricsListen !== undefined;
}

const RESULT_CODES = { ok: 0, warning: 1, failed: 2 } as const;

/**
 * Sets the metrics from a finished run and writes the textfile, when asked; a file that
 * cannot be written is a warning.
 *
 * @example
 * ```ts ignore
 * await recordRun(settings, report, started, Date.now(), log);
 * ```
 */
export async function recordRun(
  settings: Settings,
  report: RunReport,
  startedMs: number,
  endedMs: number,
  log: Logger,
): Promise<void> {
  if (!metricsWanted(settings)) return;
  try {
    const m = await makeMetrics(settings);
    m.lastRun.set(endedMs / 1000);
    m.duration.set((endedMs - startedMs) / 1000);
    m.result.set(RESULT_CODES[report.result]);
    m.runs.inc({ result: report.result });
    const archives = await listArchives(settings.dest).catch(() => []);
    if (report.outcome) {
      m.lastSuccess.set(endedMs / 1000);
      m.bytesIn.set(report.outcome.bytesIn);
      m.bytesOut.set(report.outcome.bytesOut);
      successKnown = true;
    } else if (!successKnown) {
      // A failed `now` is a process of its own: its file still says when the newest archive
      // was made, so an alert on the last success's age stays right.
      const newest = archives.at(-1);
      if (newest) m.lastSuccess.set(instantOf(newest, settings.tz) / 1000);
    }
    m.upload?.set(report.result === "failed" ? 0 : 1);
    m.archives.set(archives.length);
    if (settings.metricsFile) await writeTextfile(settings.metricsFile, await m.registry.metrics());
  } catch (err) {
    log.warn("cannot record the metrics", { error: describeError(err) });
  }
}

/**
 * The WAL archiving gauges after a cycle; the textfile too when one is asked for.
 *
 * @example
 * ```ts ignore
 * await recordWal(settings, archiver.state, 2, log, false);
 * ```
 */
export async function recordWal(
  settings: Settings,
  state: WalState,
  newSegments: number,
  log: Logger,
  pitrBroken = false,
): Promise<void> {
  if (!metricsWanted(settings) || !settings.wal) return;
  try {
    const m = await makeMetrics(settings);
    if (!m.wal) return;
    const seconds = (iso: string | undefined) => iso ? Date.parse(iso) / 1000 : undefined;
    const set = (g: Gauge, value: number | undefined) => value !== undefined && g.set(value);
    set(m.wal.lastArchived, seconds(state.lastArchived));
    set(m.wal.lastCycle, seconds(state.lastCycle));
    set(m.wal.caughtUp, seconds(state.caughtUp));
    m.wal.interval.set(state.intervalMs / 1000);
    m.wal.lag.set(state.lagBytes);
    m.wal.retained.set(state.retainedBytes);
    m.wal.maxRetained.set(state.maxRetainedBytes);
    m.wal.broken.set(pitrBroken ? 1 : 0);
    if (newSegments > 0) m.wal.segments.inc(newSegments);
    if (settings.metricsFile) await writeTextfile(settings.metricsFile, await m.registry.metrics());
  } catch (err) {
    log.warn("cannot record the metrics", { error: describeError(err) });
  }
}

let drillGauges: { lastSuccess: Gauge; duration: Gauge; rto: Gauge; result: Gauge } | undefined;

/** A restore drill as the metrics take it. */
export interface DrillMetrics {
  /** Its exit code: 0 passed, 1 a problem found, 2 could not run. */
  code: number;
  /** How long it took, seconds. */
  seconds: number;
  /** Its RTO (restore, start and recovery), seconds, when it got that far. */
  rtoSeconds?: number;
  /** When the last passed drill ended, epoch ms, if one did. */
  lastPassedMs?: number;
}

/**
 * The drill gauges after a drill; the textfile too when one is asked for.
 *
 * @example
 * ```ts ignore
 * await recordDrillMetrics(settings, { code: 0, seconds: 42.1, lastPassedMs: Date.now() }, log);
 * ```
 */
export async function recordDrillMetrics(
  settings: Settings,
  drill: DrillMetrics,
  log: Logger,
): Promise<void> {
  if (!metricsWanted(settings)) return;
  try {
    const m = await makeMetrics(settings);
    // Made at the first drill: before one, no drill metric claims a result.
    if (!drillGauges) {
      const prom = await import("prom-client");
      const gauge = (name: string, help: string) =>
        new prom.Gauge({ name, help, registers: [m.registry] });
      drillGauges = {
        lastSuccess: gauge(
          "backupd_drill_last_success_timestamp_seconds",
          "When the last restore drill that passed ended.",
        ),
        duration: gauge("backupd_drill_duration_seconds", "How long the last restore drill took."),
        rto: gauge(
          "backupd_drill_rto_seconds",
          "The last restore drill's RTO: restore, start and recovery, seconds.",
        ),
        result: gauge(
          "backupd_drill_result",
          "The last restore drill's exit code: 0 passed, 1 a problem found, 2 could not run.",
        ),
      };
    }
    drillGauges.result.set(drill.code);
    drillGauges.duration.set(drill.seconds);
    if (drill.rtoSeconds !== undefined) drillGauges.rto.set(drill.rtoSeconds);
    if (drill.lastPassedMs !== undefined) drillGauges.lastSuccess.set(drill.lastPassedMs / 1000);
    if (settings.metricsFile) await writeTextfile(settings.metricsFile, await m.registry.metrics());
  } catch (err) {
    log.warn("cannot record the metrics", { error: describeError(err) });
  }
}

/** Writes the textfile atomically, as node_exporter wants: a temporary name, then renamed. */
async function writeTextfile(path: string, text: string): Promise<void> {
  const temporary = `${dirname(path)}/.${basename(path)}.${Deno.pid}.tmp`;
  await Deno.writeTextFile(temporary, text, { mode: 0o644 });
  await Deno.rename(temporary, path);
}

/**
 * Serves /metrics on `--metrics-listen` until `signal` aborts; the last success starts
 * from the newest archive's time, so a restarted daemon does not look like it never ran.
 *
 * @example
 * ```ts ignore
 * await serveMetrics(settings, newestArchiveMs, stop.signal, log);
 * ```
 */
export async function serveMetrics(
  settings: Settings,
  newestArchiveMs: number | undefined,
  signal: AbortSignal,
  log: Logger,
): Promise<void> {
  const listen = settings.metricsListen;
  if (!listen) return;
  const m = await makeMetrics(settings);
  if (newestArchiveMs !== undefined) {
    m.lastSuccess.set(newestArchiveMs / 1000);
    successKnown = true;
  }
  m.archives.set((await listArchives(settings.dest).catch(() => [])).length);
  try {
    Deno.serve({
      hostname: listen.hostname,
      port: listen.port,
      signal,
      onListen: ({ hostname, port }) =>
        log.info("metrics served", { at: `http://${hostname}:${port}/metrics` }),
    }, async (request) => {
      if (new URL(request.url).pathname !== "/metrics") {
        return new Response("not found\n", { status: 404 });
      }
      return new Response(await m.registry.metrics(), {
        headers: { "content-type": m.registry.contentType },
      });
    });
  } catch (err) {
    throw new RunError(
      `Cannot serve metrics on ${listen.hostname}:${listen.port}: ${fsReason(err)}`,
      { cause: err },
    );
  }
}
