// `backupd wal commits --from T1 --to T2 [--table [SCHEMA.]TABLE]` (README: Get one table
// back): each transaction that ended between T1 and T2, read from the archived WAL under
// DEST: its commit or abort time to the microsecond, its xid, and the rows it changed per
// table (names from the live server of --postgres, else the relation file numbers).

import { RunError, UsageError } from "../base/errors.ts";
import { openQuerySession } from "../postgres/backup_session.ts";
import { type CatalogFile, readWalCatalog, walRanges } from "../postgres/wal_catalog.ts";
import { readWalChain } from "../postgres/wal_chain.ts";
import {
  microsIso,
  type RelFile,
  type TransactionEnd,
  TransactionFollower,
} from "../postgres/wal_changes.ts";
import { readWalBytes } from "../postgres/wal_read.ts";
import { localWalStore, type WalStore } from "../store/wal_store.ts";
import type { CommandContext } from "./command.ts";
import { existingDest, identitiesOf } from "./find_archive.ts";
import { parseTargetTime } from "./restore.ts";

/** The stretches of stored WAL that hold what ended between `from` and `to`, per timeline. */
function stretches(
  files: readonly CatalogFile[],
  partials: readonly CatalogFile[],
  from: number,
  to: number,
) {
  const out: CatalogFile[][] = [];
  for (const range of walRanges(files)) {
    const run = files.filter((f) =>
      f.timeline === range.timeline && f.segno >= range.first && f.segno <= range.last
    );
    const partial = partials.find((p) =>
      p.timeline === range.timeline && p.segno === range.last + 1
    );
    const all = partial ? [...run, partial] : run;
    // A file stored before `from` holds nothing written after it; the first stored after
    // `to` holds the last of what was written before it.
    const first = all.findIndex((f) => f.storedMs >= from);
    if (first < 0) continue;
    const after = all.findIndex((f) => f.storedMs > to);
    out.push(all.slice(first, after < 0 ? all.length : after + 1));
  }
  return out;
}

/** Every transaction end in the stretches, read as chains of records. */
async function endsIn(
  store: WalStore,
  stretchList: CatalogFile[][],
  identities: readonly string[],
  segmentBytes: number,
): Promise<TransactionEnd[]> {
  const ends: TransactionEnd[] = [];
  const follower = new TransactionFollower((end) => ends.push(end));
  for (const files of stretchList) {
    const chain = await readWalChain(
      files.map((file) => ({
        name: file.wal.replace(/\.partial$/, ""),
        segno: file.segno,
        load: () => readWalBytes(store, file, identities),
      })),
      segmentBytes,
      { onRecord: (record, lsn) => follower.record(record, lsn) },
    );
    if (chain.broken) {
      throw new RunError(
        `Cannot read the WAL: it breaks in segment ${chain.broken.segment} (${chain.broken.reason})`,
      );
    }
  }
  return ends;
}

/** Names of relation files, from the live server's catalog (its own database only). */
async function namesOf(ctx: CommandContext, files: RelFile[]): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  const target = ctx.settings.postgres;
  if (!target || files.length === 0) return names;
  const session = await openQuerySession(target, ctx.log, () => undefined, "backupd wal commits");
  try {
    const [db] = await session.query<{ oid: number; spc: number }[]>`
      SELECT oid::int, dattablespace::int AS spc FROM pg_database WHERE datname = current_database()`;
    for (const f of files) {
      if (f.db !== db?.oid) continue;
      const [row] = await session.query<{ name: string | null }[]>`
        SELECT pg_filenode_relation(${
        f.spc === db.spc ? 0 : f.spc
      }, ${f.rel})::regclass::text AS name`;
      if (row?.name) names.set(`${f.spc}/${f.db}/${f.rel}`, row.name);
    }
  } finally {
    await session.close();
  }
  return names;
}

/**
 * One transaction's line: time, xid, COMMIT or ABORT, and the rows per table (names by
 * `show`); none when `table` is given and it did not change it.
 */
function commitLine(
  end: TransactionEnd,
  show: (key: string) => string,
  table: string | undefined,
): string | undefined {
  const changes = [...end.changes.entries()].map(([key, c]) => ({ name: show(key), ...c }));
  if (table && !changes.some((c) => c.name === table)) return undefined;
  const counts = (c: { inserted: number; updated: number; deleted: number }) =>
    Object.entries({ inserted: c.inserted, updated: c.updated, deleted: c.deleted })
      .filter(([, n]) => n > 0).map(([kind, n]) => `${n} ${kind}`).join(", ");
  const text = changes.map((c) => `${c.name}: ${counts(c)}`).join("; ");
  return `${microsIso(end.micros)}  xid ${end.xid}  ${end.kind.toUpperCase()}${
    text ? `  ${text}` : ""
  }\n`;
}

/** `wal commits`: the transactions that ended between --from and --to, one line each. */
export async function walCommits(ctx: CommandContext): Promise<number> {
  const { settings } = ctx;
  const bound = (key: "from" | "to") => {
    const value = ctx.options[key];
    if (value === undefined) {
      throw new UsageError(`Cannot list commits: give --from TIME and --to TIME`);
    }
    const target = parseTargetTime(String(value), settings.tz, `--${key}`);
    if (!("time" in target)) throw new UsageError(`Cannot list commits: --${key} takes a time`);
    return target.time;
  };
  const from = bound("from");
  const to = bound("to");
  if (from > to) throw new UsageError("Cannot list commits: --from is after --to");
  const store = localWalStore(await existingDest(settings, "list commits"));
  const catalog = await readWalCatalog(store);
  const { identities = [] } = await identitiesOf(settings);
  const ends = (await endsIn(
    store,
    stretches(catalog.segments, catalog.partials, from, to),
    identities,
    catalog.segmentBytes,
  ))
    .filter((e) => e.micros >= BigInt(from) * 1000n && e.micros <= BigInt(to) * 1000n + 999n);
  const files = [
    ...new Map(
      ends.flatMap((e) =>
        [...e.changes.values()].map((c) =>
          [`${c.file.spc}/${c.file.db}/${c.file.rel}`, c.file] as const
        )
      ),
    ).values(),
  ];
  const names = await namesOf(ctx, files);
  const wanted = ctx.options.table === undefined ? undefined : String(ctx.options.table);
  const table = wanted && !wanted.includes(".") ? `public.${wanted}` : wanted;
  const show = (key: string) => names.get(key)?.replace(/^(?![^.]+\.)/, "public.") ?? `file ${key}`;
  let shown = 0;
  for (const end of ends.sort((a, b) => (a.micros < b.micros ? -1 : 1))) {
    const line = commitLine(end, show, table);
    if (line === undefined) continue;
    ctx.stdout(line);
    shown++;
  }
  ctx.stdout(
    `${shown} transactions ended between ${new Date(from).toISOString()} and ${
      new Date(to).toISOString()
    }${
      table ? ` that changed ${table}` : ""
    }; "--to-time before-xid:N" recovers to just before one\n`,
  );
  return 0;
}
