// What can be wrong with an archive being read back, as error classes thrown where the
// failure is found (a cut unit, a zlib check, an age tag, a tar header); callers use instanceof.

import { describeError, RunError } from "../base/errors.ts";

/**
 * An archive that cannot be read back; its message is the reason `verify` prints.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * const err = new TruncatedArchiveError("the gzip stream is truncated");
 * assertEquals(err instanceof ArchiveReadError, true);
 * ```
 */
export class ArchiveReadError extends RunError {}

/**
 * The archive ends early: a compressed unit or stream, the age body or the tar stream is cut.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(new TruncatedArchiveError("the zstd stream is truncated").name, "TruncatedArchiveError");
 * ```
 */
export class TruncatedArchiveError extends ArchiveReadError {}

/**
 * The archive's bytes do not decode: a compressed checksum, a damaged frame or age chunk.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * const err = new CorruptArchiveError("the gzip stream is corrupt (incorrect data check)");
 * assertEquals(err.name, "CorruptArchiveError");
 * ```
 */
export class CorruptArchiveError extends ArchiveReadError {}

/**
 * The tar stream inside is not valid: a bad header, or an entry with fewer bytes than its
 * header promises.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * const err = new InvalidTarError("the tar stream is invalid (Invalid tar header checksum.)");
 * assertEquals(err instanceof ArchiveReadError, true);
 * ```
 */
export class InvalidTarError extends ArchiveReadError {}

/**
 * The error a zlib failure means for a `kind` ("gzip", "zstd") stream: zlib's own "unexpected
 * end of file" is a cut stream, anything else a corrupt one.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * const cut = Object.assign(new Error("unexpected end of file"), { code: "Z_BUF_ERROR" });
 * assertEquals(zlibFailure(cut, "gzip").message, "the gzip stream is truncated");
 * ```
 */
export function zlibFailure(err: unknown, kind: string): ArchiveReadError {
  if (err instanceof ArchiveReadError) return err;
  const code = (err as { code?: unknown })?.code;
  if (code === "Z_BUF_ERROR" || /unexpected end of file/i.test(describeError(err))) {
    return new TruncatedArchiveError(`the ${kind} stream is truncated`, { cause: err });
  }
  return new CorruptArchiveError(`the ${kind} stream is corrupt (${describeError(err)})`, {
    cause: err,
  });
}

/**
 * Passes a stream through, turning its failure into what `failure` makes of it.
 *
 * @example
 * ```ts
 * import { rejects } from "node:assert/strict";
 * const broken = new ReadableStream<Uint8Array>({ pull: (c) => c.error(new Error("incorrect header check")) });
 * await rejects(
 *   Array.fromAsync(mapFailure(broken, (err) => zlibFailure(err, "gzip"))),
 *   CorruptArchiveError,
 * );
 * ```
 */
export function mapFailure(
  stream: ReadableStream<Uint8Array>,
  failure: (err: unknown) => Error,
): ReadableStream<Uint8Array> {
  const chunks = async function* () {
    try {
      for await (const chunk of stream) yield chunk;
    } catch (err) {
      throw failure(err);
    }
  };
  return ReadableStream.from(chunks());
}
