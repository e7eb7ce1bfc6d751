import { deepStrictEqual } from "node:assert/strict";
import { readExactly, type SizeChange } from "../lib/archive/exact_reader.ts";
import { tempDir } from "./helpers.ts";

async function readAll(path: string, size: number, chunkSize: number) {
  const changes: SizeChange[] = [];
  using file = Deno.openSync(path);
  const parts: number[] = [];
  for await (
    const chunk of readExactly(file, size, {
      chunkSize,
      onChange: (c) => changes.push(c),
    })
  ) {
    parts.push(...chunk);
  }
  return { bytes: parts, changes };
}

Deno.test("readExactly yields the stat'ed size and reports nothing when the file is unchanged", async () => {
  await using dir = await tempDir();
  await Deno.writeFile(`${dir.path}/f`, new Uint8Array([1, 2, 3, 4, 5, 6, 7]));
  deepStrictEqual(await readAll(`${dir.path}/f`, 7, 3), {
    bytes: [1, 2, 3, 4, 5, 6, 7],
    changes: [],
  });
});

Deno.test("readExactly cuts a file that is longer than its size and reports grew", async () => {
  await using dir = await tempDir();
  await Deno.writeFile(`${dir.path}/f`, new Uint8Array([1, 2, 3, 4, 5, 6, 7]));
  deepStrictEqual(await readAll(`${dir.path}/f`, 4, 3), { bytes: [1, 2, 3, 4], changes: ["grew"] });
});

Deno.test("readExactly pads a file shorter than its size with zeros and reports shrank", async () => {
  await using dir = await tempDir();
  await Deno.writeFile(`${dir.path}/f`, new Uint8Array([9, 9]));
  deepStrictEqual(await readAll(`${dir.path}/f`, 5, 2), {
    bytes: [9, 9, 0, 0, 0],
    changes: ["shrank"],
  });
});

Deno.test("readExactly hands out fresh buffers that later reads do not overwrite", async () => {
  await using dir = await tempDir();
  await Deno.writeFile(`${dir.path}/f`, new Uint8Array([1, 2, 3, 4]));
  using file = Deno.openSync(`${dir.path}/f`);
  const chunks: Uint8Array[] = [];
  for (const chunk of readExactly(file, 4, { chunkSize: 2 })) chunks.push(chunk);
  deepStrictEqual(chunks.map((c) => [...c]), [[1, 2], [3, 4]]);
});
