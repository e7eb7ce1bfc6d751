import { createHash } from "node:crypto";
import { deepStrictEqual, rejects, strictEqual } from "node:assert/strict";
import { packWal } from "../../lib/codec/wal_codec.ts";
import { formatBaseRecord } from "../../lib/postgres/base_record.ts";
import { type PlanContext, planRecovery } from "../../lib/postgres/pitr.ts";
import { readWalCatalog } from "../../lib/postgres/wal_catalog.ts";
import { sidecarName } from "../../lib/store/names.ts";
import type { WalStore } from "../../lib/store/wal_store.ts";

const MB16 = 16 * 1024 * 1024;
const T0 = Date.UTC(2026, 11, 3, 1, 0, 5);

/** A WAL folder in memory: each file with its sidecar, stored at `T0 + 1 h`. */
function memoryStore(files: Record<string, string | Uint8Array>): WalStore {
  const bytes = new Map<string, Uint8Array>();
  for (const [name, content] of Object.entries(files)) {
    const data = typeof content === "string" ? new TextEncoder().encode(content) : content;
    bytes.set(name, data);
    const sha256 = createHash("sha256").update(data).digest("hex");
    bytes.set(sidecarName(name), new TextEncoder().encode(`${sha256}  ${name}\n`));
  }
  return {
    list: () =>
      Promise.resolve(
        [...bytes].map(([file, b]) => ({ file, size: b.length, storedMs: T0 + 3_600_000 })),
      ),
    read: (file) => Promise.resolve(bytes.get(file)),
    remove: (file) => Promise.resolve(void bytes.delete(file)),
    url: (file) => `wal/${file ?? ""}`,
  };
}

const BASE = formatBaseRecord(
  "START WAL LOCATION: 0/3000028 (file 000000010000000000000003)\nSTART TIMELINE: 1\n",
  {
    archive: "2026-12-03/01-00-00.tar.gz",
    start: 0x3000028n,
    stop: 0x3000100n,
    timeline: 1,
    startedMs: T0 - 5000,
    stoppedMs: T0,
    segmentBytes: MB16,
  },
);

async function folder(drop: string[] = []): Promise<WalStore> {
  const empty = await packWal(new Uint8Array(64), "gzip", []);
  const files: Record<string, string | Uint8Array> = {
    "000000010000000000000003.00000028.backup": BASE,
    "00000002.history.gz": await packWal(
      new TextEncoder().encode("1\t0/5000100\tbefore 2026-12-03\n"),
      "gzip",
      [],
    ),
    // Timeline 3 left timeline 1 before the base was consistent: not a way from this base.
    "00000003.history.gz": await packWal(
      new TextEncoder().encode("1\t0/3000050\tno target\n"),
      "gzip",
      [],
    ),
  };
  for (const seg of [3, 4, 5, 6]) files[`00000001000000000000000${seg}.gz`] = empty;
  for (const seg of [5, 6, 7]) files[`00000002000000000000000${seg}.gz`] = empty;
  files["000000020000000000000008.partial.gz"] = empty;
  for (const name of drop) delete files[name];
  return memoryStore(files);
}

function context(store: WalStore, archives = ["2026-12-03/01-00-00.tar.gz"]): PlanContext {
  return {
    store,
    archives: new Set(archives),
    identities: [],
    now: T0 + 7_200_000,
    timeZone: "UTC",
  };
}

Deno.test("planRecovery follows the newest timeline that left the base's after it was consistent", async () => {
  const store = await folder();
  const plan = await planRecovery(await readWalCatalog(store), { latest: true }, context(store));
  deepStrictEqual(plan.timelines, [1, 2]);
  deepStrictEqual(plan.files.map((f) => f.wal), [
    "00000002.history",
    "000000010000000000000003",
    "000000010000000000000004",
    "000000020000000000000005",
    "000000020000000000000006",
    "000000020000000000000007",
  ]);
  strictEqual(plan.partial?.wal, "000000020000000000000008.partial");
  strictEqual(plan.stopAt, undefined);
});

Deno.test("planRecovery refuses the end of the WAL behind a missing segment, naming it", async () => {
  const store = await folder(["000000010000000000000004.gz"]);
  await rejects(planRecovery(await readWalCatalog(store), { latest: true }, context(store)), {
    name: "UsageError",
    message:
      "Cannot recover to the end of the WAL: the WAL segment 000000010000000000000004 is missing (a gap)",
  });
});

Deno.test("planRecovery refuses a time before the oldest base, in the future, or past the WAL", async () => {
  const store = await folder();
  const catalog = await readWalCatalog(store);
  await rejects(planRecovery(catalog, { time: T0 - 1 }, context(store)), {
    message:
      "Cannot recover to 2026-12-03T01:00:04+00:00: it is older than the oldest base backup, which ended at 2026-12-03T01:00:05+00:00",
  });
  await rejects(planRecovery(catalog, { time: T0 + 9_000_000 }, context(store)), {
    message: "Cannot recover to 2026-12-03T03:30:05+00:00: it is in the future",
  });
  await rejects(planRecovery(catalog, { time: T0 + 3_700_000 }, context(store)), {
    message:
      "Cannot recover to 2026-12-03T02:01:45+00:00: it is newer than the archived WAL, which reaches 2026-12-03T02:00:05+00:00; give --to-time latest for all of it",
  });
  // No transaction end in the WAL after the time: all of it is replayed.
  const plan = await planRecovery(catalog, { time: T0 + 60_000 }, context(store));
  strictEqual(plan.stopAt, undefined);
});

Deno.test("planRecovery takes no base whose archive is gone", async () => {
  const store = await folder();
  await rejects(planRecovery(await readWalCatalog(store), { latest: true }, context(store, [])), {
    message:
      "Cannot recover to a point in time from wal/: no base backup made with --postgres is recorded there",
  });
});
