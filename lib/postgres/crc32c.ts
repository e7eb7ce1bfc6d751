// CRC-32C (Castagnoli), the checksum PostgreSQL puts on every WAL record: a reflected
// polynomial 0x82F63B78, slicing by eight bytes, computed in pieces without copying.

const TABLES = (() => {
  const tables = new Uint32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    tables[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = tables[n] as number;
    for (let t = 1; t < 8; t++) {
      c = (tables[c & 0xff] as number) ^ (c >>> 8);
      tables[t * 256 + n] = c >>> 0;
    }
  }
  return tables;
})();

/**
 * Folds `bytes` into a running CRC-32C state; start with `0xffffffff`, end with
 * {@linkcode crc32cFinish}.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * const bytes = new TextEncoder().encode("123456789");
 * assertEquals(crc32cFinish(crc32cUpdate(0xffffffff, bytes)), 0xe3069283);
 * const split = crc32cUpdate(crc32cUpdate(0xffffffff, bytes.subarray(0, 4)), bytes.subarray(4));
 * assertEquals(crc32cFinish(split), 0xe3069283);
 * ```
 */
export function crc32cUpdate(state: number, bytes: Uint8Array): number {
  const t = TABLES;
  let crc = state >>> 0;
  let i = 0;
  const n = bytes.length;
  for (; i + 8 <= n; i += 8) {
    const lo = crc ^ ((bytes[i] as number) | (bytes[i + 1] as number) << 8 |
      (bytes[i + 2] as number) << 16 | (bytes[i + 3] as number) << 24);
    crc = (t[7 * 256 + (lo & 0xff)] as number) ^ (t[6 * 256 + ((lo >>> 8) & 0xff)] as number) ^
      (t[5 * 256 + ((lo >>> 16) & 0xff)] as number) ^ (t[4 * 256 + (lo >>> 24)] as number) ^
      (t[3 * 256 + (bytes[i + 4] as number)] as number) ^
      (t[2 * 256 + (bytes[i + 5] as number)] as number) ^
      (t[256 + (bytes[i + 6] as number)] as number) ^ (t[bytes[i + 7] as number] as number);
  }
  for (; i < n; i++) crc = (t[(crc ^ (bytes[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  return crc >>> 0;
}

/**
 * The checksum of a finished running state.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(crc32cFinish(crc32cUpdate(0xffffffff, new Uint8Array(0))), 0);
 * ```
 */
export function crc32cFinish(state: number): number {
  return (state ^ 0xffffffff) >>> 0;
}
