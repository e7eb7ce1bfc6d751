import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { gunzipSync, gzipSync, zstdCompressSync, zstdDecompressSync } from "node:zlib";
import {
  frameGzipMember,
  frameZstdUnit,
  GZIP_EXTRA,
  memberLength,
  ZSTD_PREFIX,
  zstdUnitLength,
} from "../../lib/codec/framing.ts";
import { tempDir } from "../helpers.ts";

const block = new TextEncoder().encode("employee|1|dept_3\n".repeat(5000));

/** A gzip member framed in place, as the workers do, in a buffer with spare room after it. */
function withLength(member: Uint8Array): Uint8Array {
  const buffer = new Uint8Array(GZIP_EXTRA + member.length + 100).fill(0xee);
  buffer.set(member, GZIP_EXTRA);
  return buffer.subarray(0, frameGzipMember(buffer, GZIP_EXTRA + member.length));
}

function zstdUnit(frame: Uint8Array): Uint8Array {
  const buffer = new Uint8Array(ZSTD_PREFIX + frame.length).fill(0xee);
  buffer.set(frame, ZSTD_PREFIX);
  return buffer.subarray(0, frameZstdUnit(buffer, buffer.length));
}

Deno.test("frameGzipMember frames a gzip member that states its own length and still inflates", () => {
  const member = withLength(gzipSync(block));
  strictEqual(memberLength(member.subarray(0, 20)), member.length);
  deepStrictEqual(new Uint8Array(gunzipSync(member)), block);
  // Two framed members one after the other are one valid gzip stream.
  const two = new Uint8Array([...member, ...member]);
  strictEqual(gunzipSync(two).length, 2 * block.length);
});

Deno.test("memberLength is undefined for plain gzip and anything else", () => {
  strictEqual(memberLength(gzipSync(block).subarray(0, 20)), undefined);
  strictEqual(memberLength(new Uint8Array(20)), undefined);
  strictEqual(memberLength(withLength(gzipSync(block)).subarray(0, 10)), undefined);
});

Deno.test("frameZstdUnit puts a skippable frame with the unit's length before a zstd frame", async () => {
  const unit = zstdUnit(zstdCompressSync(block));
  strictEqual(zstdUnitLength(unit.subarray(0, 16)), unit.length);
  strictEqual(zstdUnitLength(zstdCompressSync(block).subarray(0, 16)), undefined);
  // backupd inflates the frame after the prefix; the zstd CLI skips the skippable frame.
  deepStrictEqual(new Uint8Array(zstdDecompressSync(unit.subarray(16))), block);
  await using dir = await tempDir();
  await Deno.writeFile(`${dir.path}/unit.zst`, unit);
  const cli = await new Deno.Command("zstd", {
    args: ["-dcq", `${dir.path}/unit.zst`],
    stdout: "piped",
  }).output();
  strictEqual(cli.success, true);
  deepStrictEqual(cli.stdout, block);
});
