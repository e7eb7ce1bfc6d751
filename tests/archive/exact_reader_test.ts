import { deepStrictEqual } from "node:assert/strict";
import { readExactly } from "../../lib/archive/exact_reader.ts";
import { tempDir } from "../helpers.ts";

/** Reads into one reused 3-byte buffer, as the blocks are reused; keeps what was handed on. */
async function readAll(path: string, size: number, chunkSize: number) {
  using file = Deno.openSync(path);
  const room = new Uint8Array(3).fill(0xee);
  const bytes: number[] = [];
  const seen: number[] = [];
  const change = await readExactly(file, size, {
    room: (max) => room.subarray(0, Math.min(max, room.length)),
    took: (n) => {
      bytes.push(...room.subarray(0, n));
      room.fill(0xee);
      return Promise.resolve();
    },
  }, { chunkSize, onChunk: (chunk) => seen.push(...chunk) });
  deepStrictEqual(seen, bytes);
  return { bytes, change };
}

Deno.test("readExactly stores the stat'ed size and reports nothing when the file is unchanged", async () => {
  await using dir = await tempDir();
  await Deno.writeFile(`${dir.path}/f`, new Uint8Array([1, 2, 3, 4, 5, 6, 7]));
  deepStrictEqual(await readAll(`${dir.path}/f`, 7, 3), {
    bytes: [1, 2, 3, 4, 5, 6, 7],
    change: undefined,
  });
});

Deno.test("readExactly cuts a file that is longer than its size and reports grew", async () => {
  await using dir = await tempDir();
  await Deno.writeFile(`${dir.path}/f`, new Uint8Array([1, 2, 3, 4, 5, 6, 7]));
  deepStrictEqual(await readAll(`${dir.path}/f`, 4, 3), { bytes: [1, 2, 3, 4], change: "grew" });
});

Deno.test("readExactly pads a file shorter than its size with zeros, shows them, and reports shrank", async () => {
  await using dir = await tempDir();
  await Deno.writeFile(`${dir.path}/f`, new Uint8Array([9, 9]));
  deepStrictEqual(await readAll(`${dir.path}/f`, 5, 2), {
    bytes: [9, 9, 0, 0, 0],
    change: "shrank",
  });
});

Deno.test("readExactly never reads more than the room or the chunk size at once", async () => {
  await using dir = await tempDir();
  await Deno.writeFile(`${dir.path}/f`, new Uint8Array([1, 2, 3, 4, 5]));
  const readsWith = async (roomBytes: number, chunkSize: number) => {
    using file = Deno.openSync(`${dir.path}/f`);
    const reads: number[] = [];
    const room = new Uint8Array(roomBytes);
    await readExactly(file, 5, {
      room: (max) => room.subarray(0, Math.min(max, room.length)),
      took: (n) => Promise.resolve(void reads.push(n)),
    }, { chunkSize });
    return reads;
  };
  // The chunk size is the smaller, then the room is.
  deepStrictEqual(await readsWith(8, 2), [2, 2, 1]);
  deepStrictEqual(await readsWith(3, 4), [3, 2]);
});
