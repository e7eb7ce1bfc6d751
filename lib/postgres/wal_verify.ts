// Checking a WAL folder (README: Point-in-time recovery): each stored file's sha256 against
// its sidecar; each segment, when it can be read (not encrypted, or with the identity),
// decompressed to a whole segment whose first page is the one its name says.

import { describeError } from "../base/errors.ts";
import { createHash } from "node:crypto";
import { parseSidecar } from "../store/sidecar.ts";
import { sidecarName } from "../store/names.ts";
import { segmentStart } from "../store/wal_names.ts";
import type { WalStore } from "../store/wal_store.ts";
import { type CatalogFile, readWalCatalog } from "./wal_catalog.ts";
import { readWalBytes } from "./pitr.ts";
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
  /** Each file that failed, and why. */
  failures: { file: string; reason: string }[];
}

async function hashProblem(store: WalStore, file: string): Promise<string | undefined> {
  const [bytes, sidecar] = await Promise.all([store.read(file), store.read(sidecarName(file))]);
  if (!bytes) return "it is gone";
  const expected = parseSidecar(
    sidecar === undefined ? undefined : new TextDecoder().decode(sidecar),
    file,
  );
  if ("missing" in expected) return "no sidecar";
  if ("invalid" in expected) return expected.invalid;
  const actual = createHash("sha256").update(bytes).digest("hex");
  return actual === expected.hex
    ? undefined
    : `sha256 ${actual} does not match the sidecar's ${expected.hex}`;
}

async function contentProblem(
  store: WalStore,
  file: CatalogFile,
  identities: readonly string[],
  segmentBytes: number,
): Promise<string | undefined> {
  try {
    const bytes = await readWalBytes(store, file, identities);
    if (file.kind === "segment" && bytes.length !== segmentBytes) {
      return `it holds ${bytes.length} bytes, not a whole segment of ${segmentBytes}`;
    }
    return segmentProblem(bytes, segmentStart(file.segno, segmentBytes), segmentBytes);
  } catch (err) {
    return describeError(err);
  }
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
  for (const file of [...files.map((f) => f.file), ...catalog.bases.map((b) => b.file)]) {
    const problem = await hashProblem(store, file);
    if (problem) failures.push({ file: store.url(file), reason: problem });
  }
  for (const file of [...catalog.segments, ...catalog.partials].filter(canRead)) {
    if (failures.some((f) => f.file === store.url(file.file))) continue;
    const problem = await contentProblem(store, file, identities, catalog.segmentBytes);
    if (problem) failures.push({ file: store.url(file.file), reason: problem });
  }
  return {
    ok: failures.length === 0,
    segments: catalog.segments.length,
    partials: catalog.partials.length,
    histories: catalog.histories.length,
    bases: catalog.bases.length,
    contentChecked: files.every(canRead),
    failures,
  };
}
