// age public keys checked without loading an age library: a key is Bech32 (BIP 173, as age
// writes it, without the 90-character limit) with the "age" prefix and a 32-byte X25519
// key, or the "age1pq" prefix of the post-quantum hybrid keys.

const CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
const GENERATOR = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];

function polymod(values: readonly number[]): number {
  let check = 1;
  for (const value of values) {
    const top = check >>> 25;
    check = ((check & 0x1ffffff) << 5) ^ value;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) check ^= GENERATOR[i] as number;
  }
  return check;
}

/**
 * Says why `key` is not an age public key, or `undefined` when it is one.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(
 *   ageKeyProblem("age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"),
 *   undefined,
 * );
 * assertEquals(ageKeyProblem("age1qqqqqqqq"), "not a valid age public key (bad checksum)");
 * ```
 */
export function ageKeyProblem(key: string): string | undefined {
  if (!key.startsWith("age1")) return "expected an age public key (age1...)";
  const lower = key.toLowerCase();
  if (lower !== key && key.toUpperCase() !== key) return "not a valid age public key (mixed case)";
  const split = lower.lastIndexOf("1");
  const prefix = lower.slice(0, split);
  const data: number[] = [];
  for (const char of lower.slice(split + 1)) {
    const value = CHARSET.indexOf(char);
    if (value < 0) return `not a valid age public key (the character "${char}")`;
    data.push(value);
  }
  if (data.length < 6) return "not a valid age public key (too short)";
  const expanded = [
    ...[...prefix].map((c) => c.charCodeAt(0) >> 5),
    0,
    ...[...prefix].map((c) => c.charCodeAt(0) & 31),
  ];
  if (polymod([...expanded, ...data]) !== 1) return "not a valid age public key (bad checksum)";
  if (prefix === "age") {
    // 32 bytes are 52 five-bit groups, then the 6-group checksum.
    return data.length === 52 + 6 ? undefined : "not a valid age public key (wrong length)";
  }
  if (prefix === "age1pq") return undefined;
  return `not a valid age public key (unknown kind "${prefix}")`;
}
