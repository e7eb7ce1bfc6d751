// The framing that lets readers find backupd's compressed units without inflating them:
// each gzip member carries its own length in a `BD` extra subfield, each zstd frame follows
// a skippable frame holding the unit's length. Every gzip and zstd reader skips both.

/** Length of the extra field backupd adds: XLEN (2) + 'B' 'D' + SLEN (2) + member length (4). */
const EXTRA = 10;

/**
 * Turns a plain 10-byte-header gzip member into one whose FEXTRA field holds its own length.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { gzipSync } from "node:zlib";
 * const member = withLength(gzipSync(new Uint8Array(1024)));
 * assertEquals(memberLength(member), member.length);
 * ```
 */
export function withLength(member: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(member.length + EXTRA);
  out.set(member.subarray(0, 10), 0);
  out[3] = (out[3] ?? 0) | 0x04; // FLG.FEXTRA
  const view = new DataView(out.buffer);
  view.setUint16(10, 8, true); // XLEN
  out[12] = 0x42; // 'B'
  out[13] = 0x44; // 'D'
  view.setUint16(14, 4, true); // SLEN
  view.setUint32(16, out.length, true);
  out.set(member.subarray(10), 20);
  return out;
}

/** Length of the skippable frame before each zstd frame: magic, size, 'B' 'D', 2 spare, length. */
export const ZSTD_PREFIX = 16;

/**
 * Puts a skippable frame holding the unit's whole length before a zstd frame.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { zstdCompressSync } from "node:zlib";
 * const unit = zstdUnit(zstdCompressSync(new Uint8Array(1024)));
 * assertEquals(zstdUnitLength(unit), unit.length);
 * ```
 */
export function zstdUnit(frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(ZSTD_PREFIX + frame.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0x184d2a50, true); // skippable frame magic
  view.setUint32(4, 8, true); // its content size
  out[8] = 0x42; // 'B'
  out[9] = 0x44; // 'D'
  view.setUint32(12, out.length, true);
  out.set(frame, ZSTD_PREFIX);
  return out;
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
