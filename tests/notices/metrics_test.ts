import { match } from "node:assert/strict";
import { recordWal } from "../../lib/notices/metrics.ts";
import { createLogger } from "../../lib/base/log.ts";
import { resolveSettings } from "../../lib/settings/settings.ts";
import { tempDir } from "../helpers.ts";

Deno.test("recordWal writes the WAL gauges and the segment counter into the textfile", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/backupd.prom`;
  const settings = resolveSettings(
    { postgres: "postgres://app@db/shop", metricsFile: file },
    {},
    { timeZone: "UTC" },
  );
  const state = {
    slot: "backupd",
    intervalMs: 10_000,
    maxRetainedBytes: 1 << 30,
    segmentBytes: 1 << 24,
    segments: 9,
    lagBytes: 8192,
    retainedBytes: 3 * (1 << 24),
    gaps: [],
    lastArchived: "2026-12-03T14:05:03.000Z",
  };
  const log = createLogger({ write: () => {} });
  await recordWal(settings, state, 2, log);
  await recordWal(settings, state, 3, log);
  const text = await Deno.readTextFile(file);
  match(text, /^backupd_wal_last_archived_timestamp_seconds 1796306703$/m);
  match(text, /^backupd_wal_lag_bytes 8192$/m);
  match(text, /^backupd_wal_slot_retained_bytes 50331648$/m);
  match(text, /^backupd_wal_segments_archived_total 5$/m);
});
