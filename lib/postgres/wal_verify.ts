// Checking a WAL folder (README: Point-in-time recovery): each stored file's sha256 against
// its sidecar; each stretch of segments, when it can be read (not encrypted, or with the
// identity), decompressed and read as one chain of records, as a restore reads it.

import { describeError } from "../base/errors.ts";
import { segmentStart } from "../store/wal_names.ts";
import type { WalStore } from "../store/wal_store.ts";
import { type CatalogFile, readWalCatalog, type WalCatalog, walRanges } from "./wal_catalog.ts";
import { type ChainSegment, readWalChain } from "./wal_chain.ts";
import { readWalBytes, sidecarProblem } from "./wal_read.ts";
import { segmentProblem } from "./wal_records.ts";

/** What a WAL folder's check found. */
export interface WalVerdict {
  /** Whether every file passed. */
  ok: boolean;
  /** Whole segments checked. */
  segments: number;
  /** Partial copies checked. */
  partials: number;
  /** History files checked. */
  histories: number;
  /** Base backups' records checked. */
  bases: number;
  /** Whether the segments' content was read (not: encrypted without an identity). */
  contentChecked: boolean;
  /** WAL records read as chains, each CRC checked. */
  records: number;
  /** Each file that failed, and why. */
  failures: { file: string; reason: string }[];
}

async function hashProblem(store: WalStore, file: string): Promise<string | undefined> {
  const bytes = await store.read(file);
  return bytes ? await sidecarProblem(store, file, bytes) : "it is gone";
}

/** A segment of a chain that cannot be read as a whole segment: the chain is cut there. */
class UnreadableSegment extends Error {
  constructor(readonly index: number, reason: string) {
    super(reason);
  }
}

/** A stretch of consecutive segments on one timeline, the partial copy after it included. */
function chainsOf(catalog: WalCatalog, canRead: (f: CatalogFile) => boolean): CatalogFile[][] {
  const readable = catalog.segments.filter(canRead);
  const chains: CatalogFile[][] = [];
  for (const range of walRanges(readable)) {
    const files = readable.filter((f) =>
      f.timeline === range.timeline && f.segno >= range.first && f.segno <= range.last
    );
    const partial = catalog.partials.find((p) =>
      p.timeline === range.timeline && p.segno === range.last + 1 && canRead(p)
    );
    chains.push(partial ? [...files, partial] : files);
  }
  const alone = catalog.partials.filter((p) => canRead(p) && !chains.some((c) => c.includes(p)));
  return [...chains, ...alone.map((p) => [p])];
}

/**
 * Reads each stretch of segments as one chain of records ({@linkcode readWalChain}): every
 * segment decompressed to a whole segment whose first page is the one its name says, every
 * record's CRC, every link to the record before. A break is named, and checking goes on
 * from the next segment. Returns the records read.
 */
async function checkChains(
  store: WalStore,
  files: CatalogFile[],
  context: { identities: readonly string[]; segmentBytes: number },
  fail: (file: CatalogFile, reason: string) => void,
): Promise<number> {
  let records = 0;
  let from = 0;
  while (from < files.length) {
    const part = files.slice(from);
    const segments: ChainSegment[] = part.map((file, index) => ({
      name: file.wal.replace(/\.partial$/, ""),
      segno: file.segno,
      load: async () => {
        const bytes = await readWalBytes(store, file, context.identities).catch((err) => {
          // The line names the file already: the reason alone.
          const reason = describeError(err).replace(/^Cannot (use|read) "[^"]*": /, "");
          throw new UnreadableSegment(index, reason);
        });
        const problem = file.kind === "segment" && bytes.length !== context.segmentBytes
          ? `it holds ${bytes.length} bytes, not a whole segment of ${context.segmentBytes}`
          : segmentProblem(
            bytes,
            segmentStart(file.segno, context.segmentBytes),
            context.segmentBytes,
          );
        if (problem) throw new UnreadableSegment(index, problem);
        return bytes;
      },
    }));
    try {
      const chain = await readWalChain(segments, context.segmentBytes);
      records += chain.records;
      if (!chain.broken) return records;
      const index = part.findIndex((f) => f.wal.startsWith(chain.broken?.segment as string));
      fail(part[index] as CatalogFile, `the WAL breaks here: ${chain.broken.reason}`);
      from += index + 1;
    } catch (err) {
      if (!(err instanceof UnreadableSegment)) throw err;
      fail(part[err.index] as CatalogFile, err.message);
      from += err.index + 1;
    }
  }
  return records;
}

/**
 * Checks every file backupd stored in a WAL folder.
 *
 * @example
 * ```ts ignore
 * const verdict = await verifyWal(localWalStore("/backup"), []);
 * ```
 */
export async function verifyWal(
  store: WalStore,
  identities: readonly string[],
): Promise<WalVerdict> {
  const catalog = await readWalCatalog(store);
  const failures: WalVerdict["failures"] = [];
  const canRead = (f: CatalogFile) => !f.encrypted || identities.length > 0;
  const files = [...catalog.segments, ...catalog.partials, ...catalog.histories];
  const chains = chainsOf(catalog, canRead);
  // What the chains read is checked against its sidecar as it is read: each file once.
  const chained = new Set(chains.flat().map((f) => f.file));
  const others = [...files.map((f) => f.file), ...catalog.bases.map((b) => b.file)]
    .filter((file) => !chained.has(file));
  for (const file of others) {
    const problem = await hashProblem(store, file);
    if (problem) failures.push({ file: store.url(file), reason: problem });
  }
  const failed = new Set(failures.map((f) => f.file));
  const fail = (file: CatalogFile, reason: string) => {
    if (!failed.has(store.url(file.file))) failures.push({ file: store.url(file.file), reason });
  };
  let records = 0;
  for (const chain of chains) {
    records += await checkChains(store, chain, {
      identities,
      segmentBytes: catalog.segmentBytes,
    }, fail);
  }
  return {
    ok: failures.length === 0,
    segments: catalog.segments.length,
    partials: catalog.partials.length,
    histories: catalog.histories.length,
    bases: catalog.bases.length,
    contentChecked: files.every(canRead),
    records,
    failures,
  };
}
