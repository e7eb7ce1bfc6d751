// Reading a stored WAL file back for recovery or a check (README: Point-in-time recovery):
// its sha256 against its sidecar before its bytes are used, then decrypted and
// decompressed, every failure naming the file. The rolling partial copy may be replaced by
// a running daemon while it is read: then its successor is read instead.

import { createHash } from "node:crypto";
import { describeError, RunError, UsageError } from "../base/errors.ts";
import { unpackWal } from "../codec/wal_codec.ts";
import { sidecarName } from "../store/names.ts";
import { parseSidecar } from "../store/sidecar.ts";
import { parseStoredWal, type StoredWal } from "../store/wal_names.ts";
import type { WalStore } from "../store/wal_store.ts";

/**
 * Archived WAL that cannot be used as it is: a sha256 that does not match its sidecar, data
 * that does not decode, or a chain of records that breaks. Restore and drill report it as a
 * problem in the backup (exit 1).
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(new WalDamageError("Cannot use it").name, "WalDamageError");
 * ```
 */
export class WalDamageError extends RunError {}

/** A stored WAL file that was listed and is gone when read. */
class WalGoneError extends RunError {}

/**
 * The sidecar's sha256 of `file` against the sha256 of `bytes`; why not, when they differ.
 *
 * @example
 * ```ts ignore
 * const problem = await sidecarProblem(localWalStore("/backup"), name, bytes);
 * ```
 */
export async function sidecarProblem(
  store: WalStore,
  file: string,
  bytes: Uint8Array,
): Promise<string | undefined> {
  const sidecar = await store.read(sidecarName(file));
  const expected = parseSidecar(
    sidecar === undefined ? undefined : new TextDecoder().decode(sidecar),
    file,
  );
  if ("missing" in expected) return "it has no sidecar";
  if ("invalid" in expected) return expected.invalid;
  const actual = createHash("sha256").update(bytes).digest("hex");
  return actual === expected.hex
    ? undefined
    : `its sha256 ${actual} does not match the sidecar's ${expected.hex}`;
}

/**
 * A stored WAL file's bytes as PostgreSQL wrote them, its sha256 checked against its
 * sidecar first; a mismatch or undecodable data is a {@linkcode WalDamageError} naming it.
 *
 * @example
 * ```ts ignore
 * const bytes = await readWalBytes(localWalStore("/backup"), file, []);
 * ```
 */
export async function readWalBytes(
  store: WalStore,
  file: Pick<StoredWal, "file" | "compression" | "encrypted">,
  identities: readonly string[],
): Promise<Uint8Array> {
  const stored = await store.read(file.file);
  if (!stored) throw new WalGoneError(`Cannot read "${store.url(file.file)}": it is gone`);
  const problem = await sidecarProblem(store, file.file, stored);
  if (problem) throw new WalDamageError(`Cannot use "${store.url(file.file)}": ${problem}`);
  if (file.encrypted && identities.length === 0) {
    throw new UsageError(
      `Cannot read "${store.url(file.file)}": it is encrypted; give --age-identity FILE`,
    );
  }
  try {
    return await unpackWal(stored, file.compression ?? "gzip", file.encrypted ? identities : []);
  } catch (err) {
    throw new WalDamageError(`Cannot use "${store.url(file.file)}": ${describeError(err)}`, {
      cause: err,
    });
  }
}

/** How often, and how far apart, a replaced partial copy is read again. */
const PARTIAL_TRIES = 20;
const PARTIAL_PAUSE_MS = 100;

/**
 * Like {@linkcode readWalBytes}, but a partial copy that a running daemon replaced or
 * turned into a whole segment while it was read is read again as its successor: the newer
 * copy of the same name, or the whole segment. Returns the file read and its bytes.
 *
 * @example
 * ```ts ignore
 * const { file, bytes } = await readWalOrSuccessor(store, plan.partial, [], 16777216);
 * ```
 */
export async function readWalOrSuccessor<T extends StoredWal>(
  store: WalStore,
  file: T,
  identities: readonly string[],
  segmentBytes: number,
): Promise<{ file: StoredWal; bytes: Uint8Array }> {
  let current: StoredWal = file;
  for (let attempt = 1;; attempt++) {
    try {
      return { file: current, bytes: await readWalBytes(store, current, identities) };
    } catch (err) {
      const replaced = err instanceof WalGoneError || err instanceof WalDamageError;
      if (current.kind !== "partial" || !replaced || attempt >= PARTIAL_TRIES) throw err;
      current = await successorOf(store, file, segmentBytes) ?? current;
      await new Promise((resolve) => setTimeout(resolve, PARTIAL_PAUSE_MS));
    }
  }
}

/** The whole segment a partial copy became, if it is stored (with its sidecar) now. */
async function successorOf(
  store: WalStore,
  partial: StoredWal,
  segmentBytes: number,
): Promise<StoredWal | undefined> {
  const names = new Set((await store.list()).map((o) => o.file));
  for (const name of names) {
    const parsed = parseStoredWal(name, segmentBytes);
    if (
      parsed?.kind === "segment" && parsed.timeline === partial.timeline &&
      parsed.segno === partial.segno && names.has(sidecarName(name))
    ) {
      return parsed;
    }
  }
  return undefined;
}
