import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { packTar, type TarHeader } from "modern-tar";
import { encodeHeader } from "../../lib/archive/tar_format.ts";

/** modern-tar's own header blocks for `header`: its packed archive up to the content. */
async function modernTarHeader(header: TarHeader): Promise<Uint8Array> {
  const size = header.type === "file" || header.type === undefined ? header.size : 0;
  const packed = await packTar([{ header, body: new Uint8Array(size) }]);
  // What follows the header blocks: the content, its padding, and the 1024-byte end marker.
  return packed.subarray(0, packed.length - 1024 - Math.ceil(size / 512) * 512);
}

const when = new Date(Date.UTC(2026, 10, 30, 1, 2, 3));
const long = `data/${"d".repeat(120)}/${"f".repeat(90)}`;
const cases: TarHeader[] = [
  { name: "data/a.txt", size: 5, type: "file", mode: 0o644, uid: 0, gid: 0, mtime: when },
  { name: "data/", size: 0, type: "directory", mode: 0o755, uid: 1000, gid: 1000, mtime: when },
  { name: "data/l", size: 0, type: "symlink", linkname: "a.txt", mtime: when, uname: "root" },
  { name: "data/h", size: 0, type: "link", linkname: "data/a.txt", mtime: when, gname: "wheel" },
  { name: long, size: 10, type: "file", mtime: when },
  { name: `data/${"x".repeat(300)}`, size: 1, type: "file", mtime: when },
  {
    name: "data/ünïcødé/名前.txt",
    size: 3,
    type: "file",
    mtime: when,
    pax: { path: "data/ünïcødé/名前.txt" },
  },
  { name: "data/s", size: 7, type: "file", mtime: new Date(0), pax: { mtime: "1764464523.125" } },
  {
    name: "data/big",
    size: 9 * 1024 ** 3,
    type: "file",
    mtime: when,
    uid: 3_000_000,
    gid: 4_000_000,
  },
  { name: "data/owner", size: 0, type: "file", mtime: when, uname: "u".repeat(40), gname: "g" },
  { name: "data/lnk", size: 0, type: "symlink", linkname: `../${"t".repeat(150)}`, mtime: when },
  { name: `${"p".repeat(99)}é/x`, size: 0, type: "file", mtime: when },
];

Deno.test("encodeHeader writes the same header blocks as modern-tar's packer", async () => {
  for (const header of cases) {
    if (header.size > 2 ** 31) {
      // Too big to pack here: the size record and the cut octal field, checked on their own.
      const blocks = encodeHeader(header);
      const text = new TextDecoder().decode(blocks.subarray(512, 1024));
      strictEqual(text.includes(`size=${header.size}\n`), true, text);
      strictEqual(text.includes("uid=3000000\n"), true, text);
      continue;
    }
    deepStrictEqual(encodeHeader(header), await modernTarHeader(header), header.name);
  }
});

Deno.test("encodeHeader's blocks read back through modern-tar's strict decoder", async () => {
  const { unpackTar } = await import("modern-tar");
  for (const header of cases.filter((h) => h.size < 2 ** 31)) {
    const blocks = encodeHeader(header);
    const size = header.type === "file" ? header.size : 0;
    const archive = new Uint8Array(blocks.length + Math.ceil(size / 512) * 512 + 1024);
    archive.set(blocks);
    const [entry] = await unpackTar(archive, { strict: true });
    strictEqual(entry?.header.name, header.pax?.path ?? header.name);
    strictEqual(entry?.header.size, size);
    if (header.linkname) strictEqual(entry?.header.linkname, header.linkname);
  }
});
