// The framing that lets readers find backupd's compressed units without inflating them:
// each gzip member carries its own length in a `BD` extra subfield, each zstd frame follows
// a skippable frame holding the unit's length. Every gzip and zstd reader skips both.

/** Bytes backupd adds to a gzip member: XLEN (2) + 'B' 'D' + SLEN (2) + member length (4). */
export const GZIP_EXTRA = 10;

/**
 * Frames, in place, the plain gzip member written at `GZIP_EXTRA` up to `end` of `buffer`:
 * its 10-byte header moves to the front and an FEXTRA field holding the member's length
 * fills the gap. Returns the member's length (from 0). A member whose header already has
 * optional fields is moved to the front as it is, plain gzip.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { gzipSync } from "node:zlib";
 * const plain = gzipSync(new Uint8Array(1024));
 * const buffer = new Uint8Array(GZIP_EXTRA + plain.length);
 * buffer.set(plain, GZIP_EXTRA);
 * const length = frameGzipMember(buffer, buffer.length);
 * assertEquals(memberLength(buffer.subarray(0, length)), length);
 * ```
 */
export function frameGzipMember(buffer: Uint8Array, end: number): number {
  const at = GZIP_EXTRA;
  if (buffer[at + 3] !== 0) {
    buffer.copyWithin(0, at, end);
    return end - at;
  }
  buffer.copyWithin(0, at, at + 10);
  buffer[3] = 0x04; // FLG.FEXTRA
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  view.setUint16(10, 8, true); // XLEN
  buffer[12] = 0x42; // 'B'
  buffer[13] = 0x44; // 'D'
  view.setUint16(14, 4, true); // SLEN
  view.setUint32(16, end, true);
  return end;
}

/** Length of the skippable frame before each zstd frame: magic, size, 'B' 'D', 2 spare, length. */
export const ZSTD_PREFIX = 16;

/**
 * Writes, in place, the skippable frame holding the unit's whole length before the zstd
 * frame written at `ZSTD_PREFIX` up to `end` of `buffer`. Returns the unit's length.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { zstdCompressSync } from "node:zlib";
 * const frame = zstdCompressSync(new Uint8Array(1024));
 * const buffer = new Uint8Array(ZSTD_PREFIX + frame.length);
 * buffer.set(frame, ZSTD_PREFIX);
 * const length = frameZstdUnit(buffer, buffer.length);
 * assertEquals(zstdUnitLength(buffer), length);
 * ```
 */
export function frameZstdUnit(buffer: Uint8Array, end: number): number {
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  view.setUint32(0, 0x184d2a50, true); // skippable frame magic
  view.setUint32(4, 8, true); // its content size
  buffer[8] = 0x42; // 'B'
  buffer[9] = 0x44; // 'D'
  buffer[10] = 0;
  buffer[11] = 0;
  view.setUint32(12, end, true);
  return end;
}

/**
 * The length a gzip member header declares in backupd's `BD` extra subfield, if any.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { gzipSync } from "node:zlib";
 * // A plain gzip member carries no length:
 * assertEquals(memberLength(gzipSync(new Uint8Array(8))), undefined);
 * ```
 */
export function memberLength(header: Uint8Array): number | undefined {
  if (header.length < 20 || header[0] !== 0x1f || header[1] !== 0x8b || header[2] !== 8) {
    return undefined;
  }
  if (((header[3] ?? 0) & 0x04) === 0) return undefined;
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  if (
    view.getUint16(10, true) !== 8 || header[12] !== 0x42 || header[13] !== 0x44 ||
    view.getUint16(14, true) !== 4
  ) {
    return undefined;
  }
  return view.getUint32(16, true);
}

/**
 * The length a zstd skippable frame of backupd's declares for the unit it starts, if any.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { zstdCompressSync } from "node:zlib";
 * // A zstd frame of another tool carries no length:
 * assertEquals(zstdUnitLength(zstdCompressSync(new Uint8Array(8))), undefined);
 * ```
 */
export function zstdUnitLength(header: Uint8Array): number | undefined {
  if (header.length < ZSTD_PREFIX) return undefined;
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  if (view.getUint32(0, true) !== 0x184d2a50 || view.getUint32(4, true) !== 8) return undefined;
  if (header[8] !== 0x42 || header[9] !== 0x44) return undefined;
  return view.getUint32(12, true);
}
