// Reading sidecars and hashing archives: what verify and restore share to check an
// archive's sha256 against the `<hex>  <name>` line backupd wrote beside it.

import { createHash } from "node:crypto";
import { basename } from "node:path";

/** What the sidecar says, or why it cannot be used. */
export type SidecarHash = { hex: string } | { missing: true } | { invalid: string };

/**
 * Reads `ARCHIVE.sha256`.
 *
 * @example
 * ```ts ignore
 * const sidecar = await readSidecar("/backup/2027-01-02/01-00-00.tar.gz");
 * if ("hex" in sidecar) console.log(sidecar.hex);
 * ```
 */
export async function readSidecar(archivePath: string): Promise<SidecarHash> {
  let text: string;
  try {
    text = await Deno.readTextFile(`${archivePath}.sha256`);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return { missing: true };
    throw err;
  }
  return parseSidecar(text, basename(archivePath));
}

/**
 * Reads a sidecar's text (`undefined`: there is none) for the archive file `fileName`.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(parseSidecar(`${"ab".repeat(32)}  01-00-00.tar.gz\n`, "01-00-00.tar.gz"), { hex: "ab".repeat(32) });
 * assertEquals(parseSidecar(undefined, "01-00-00.tar.gz"), { missing: true });
 * ```
 */
export function parseSidecar(text: string | undefined, fileName: string): SidecarHash {
  if (text === undefined) return { missing: true };
  const match = /^([0-9a-f]{64}) [ *](.+)\n?$/.exec(text);
  if (!match) return { invalid: "the sidecar is not a sha256sum line" };
  if (match[2] !== fileName) {
    return { invalid: `the sidecar names "${match[2]}", not "${fileName}"` };
  }
  return { hex: match[1] as string };
}

/**
 * sha256 of a whole file, hex.
 *
 * @example
 * ```ts ignore
 * await hashFile("/backup/2027-01-02/01-00-00.tar.gz");
 * ```
 */
export async function hashFile(path: string): Promise<string> {
  using file = await Deno.open(path);
  // One buffer, read into again and again: a stream would allocate one per chunk.
  const buffer = new Uint8Array(1024 * 1024);
  const hash = createHash("sha256");
  for (let n = file.readSync(buffer); n !== null && n > 0; n = file.readSync(buffer)) {
    hash.update(n === buffer.length ? buffer : buffer.subarray(0, n));
  }
  return hash.digest("hex");
}

/**
 * sha256 of a whole stream, hex.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(
 *   await hashStream(ReadableStream.from([new Uint8Array([1, 2, 3])])),
 *   "039058c6f2c0cb492c533b0a4d14ef77cc0f78abccced5287d84a1a2011cfb81",
 * );
 * ```
 */
export async function hashStream(stream: ReadableStream<Uint8Array>): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of stream) hash.update(chunk);
  return hash.digest("hex");
}
