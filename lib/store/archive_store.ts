// Where archives are kept, as one interface for DEST and for a bucket: list, open, remove,
// url. Listing, verifying and retention take a store, whichever it is; one prune path.

import { type ArchiveName, sidecarName } from "./names.ts";
import {
  applyPolicy,
  type KeepPolicy,
  keepWindow,
  type PolicyResult,
  type RecoveryWindow,
  type WindowBase,
} from "./retention.ts";
import type { WalStore } from "./wal_store.ts";

/** An archive in a store, with its size. */
export interface StoredArchive extends ArchiveName {
  /** Bytes. */
  size: number;
}

/** Archives kept somewhere: DEST, or a bucket. */
export interface ArchiveStore {
  /** Archives, oldest first. */
  list(): Promise<StoredArchive[]>;
  /** A file's bytes (an archive or its sidecar); none when it is not there. */
  open(path: string): Promise<ReadableStream<Uint8Array> | undefined>;
  /** Removes a file (an archive or its sidecar); one that is not there is fine. */
  remove(path: string): Promise<void>;
  /** How a path is shown to the operator; the store itself without one. */
  url(path?: string): string;
  /** The file on disk, for a store that has one (reading it there is faster than a stream). */
  file?(path: string): string;
  /** Tidies after removals (DEST: date folders left empty). */
  tidy?(removed: readonly string[]): Promise<void>;
  /** The store's WAL folder (README: Point-in-time recovery). */
  wal(): WalStore;
}

/**
 * Plans retention over a store and, unless `dryRun`, removes each archive the plan gives
 * up, with its sidecar.
 *
 * @example
 * ```ts ignore
 * const plan = await pruneStore(localStore("/backup"), { daily: 7 }, { dryRun: true });
 * ```
 */
export async function pruneStore(
  store: ArchiveStore,
  policy: KeepPolicy,
  options: {
    dryRun: boolean;
    /** The base backups recorded for point-in-time recovery, and now: the window is kept. */
    window?: { bases: readonly WindowBase[]; now: number; show?: (ms: number) => string };
  },
): Promise<PolicyResult & { window?: RecoveryWindow }> {
  const policed = applyPolicy(await store.list(), policy);
  const plan = options.window
    ? keepWindow(policed, options.window.bases, { within: policy.within, ...options.window })
    : policed;
  if (options.dryRun) return plan;
  for (const path of plan.remove) {
    await store.remove(path);
    await store.remove(sidecarName(path));
  }
  await store.tidy?.(plan.remove);
  return plan;
}
