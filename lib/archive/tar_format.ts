// Tar headers encoded straight into a reused buffer, byte for byte as modern-tar's packer
// encodes them (ustar, with a pax extended header where ustar is not enough: long or
// non-ASCII names, large ids and sizes, sub-second times). modern-tar's packer is only
// reachable through web streams, which cost ~15 µs an entry; this costs ~1. A test holds
// the two to the same bytes (tests/tar_format_test.ts); archives are read back with
// modern-tar's strict decoder.

import type { TarHeader } from "../base/tar_header.ts";

const TYPEFLAG: Record<NonNullable<TarHeader["type"]>, string> = {
  file: "0",
  link: "1",
  symlink: "2",
  "character-device": "3",
  "block-device": "4",
  directory: "5",
  fifo: "6",
  "pax-header": "x",
  "pax-global-header": "g",
  "gnu-long-name": "L",
  "gnu-long-link-name": "K",
};

const encoder = new TextEncoder();
const decoder = new TextDecoder();
// deno-lint-ignore no-control-regex
const NON_ASCII = /[^\x00-\x7f]/;

/** The bytes of the last header encoded; reused, grown for long pax records. */
let scratch: Uint8Array<ArrayBuffer> = new Uint8Array(4096);

function isBodyless(type: TarHeader["type"]): boolean {
  return type === "directory" || type === "symlink" || type === "link" ||
    type === "character-device" || type === "block-device" || type === "fifo";
}

function utf8Length(value: string): number {
  return NON_ASCII.test(value) ? encoder.encode(value).length : value.length;
}

function tooLong(value: string, limit: number): boolean {
  if (value.length * 3 <= limit) return false;
  if (value.length > limit) return true;
  if (!NON_ASCII.test(value)) return false;
  return encoder.encode(value).length > limit;
}

/** A long path cut at a `/` into ustar's prefix (155 bytes) and name (100 bytes). */
function ustarSplit(path: string): { prefix: string; name: string } | undefined {
  if (!tooLong(path, 100) || tooLong(path, 256)) return undefined;
  for (let i = path.length - 1; i > 0; i--) {
    if (path[i] !== "/") continue;
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (!tooLong(prefix, 155) && !tooLong(name, 100)) return { prefix, name };
  }
  return undefined;
}

function writeString(view: Uint8Array, offset: number, size: number, value: string | undefined) {
  if (!value) return;
  for (let i = 0; i < value.length && i < size; i++) {
    const code = value.charCodeAt(i);
    if (code > 127) {
      encoder.encodeInto(value, view.subarray(offset, offset + size));
      return;
    }
    view[offset + i] = code;
  }
}

function writeOctal(view: Uint8Array, offset: number, size: number, value: number | undefined) {
  if (value === undefined) return;
  let remaining = value;
  for (let i = offset + size - 2; i >= offset; i--) {
    view[i] = 48 + remaining % 8;
    remaining = Math.floor(remaining / 8);
  }
  if (remaining === 0 && value % 1 === 0) return;
  // Too large for the field: its leading digits, as modern-tar writes them (a pax record
  // carries the value).
  encoder.encodeInto(
    value.toString(8).padStart(size - 1, "0"),
    view.subarray(offset, offset + size - 1),
  );
}

function writeChecksum(block: Uint8Array) {
  block.fill(32, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += block[i] as number;
  for (let i = 153; i >= 148; i--) {
    block[i] = (sum & 7) + 48;
    sum >>= 3;
  }
  block[154] = 0;
  block[155] = 32;
}

/** One ustar header block at `at` of `buffer` (zeroed first). */
function ustarBlock(buffer: Uint8Array, at: number, header: TarHeader, size: number) {
  const view = buffer.subarray(at, at + 512);
  view.fill(0);
  let name = header.name;
  let prefix = "";
  if (!header.pax?.path) {
    const split = ustarSplit(name);
    if (split) ({ name, prefix } = split);
  }
  writeString(view, 0, 100, name);
  writeOctal(view, 100, 8, header.mode ?? (header.type === "directory" ? 0o755 : 0o644));
  writeOctal(view, 108, 8, header.uid ?? 0);
  writeOctal(view, 116, 8, header.gid ?? 0);
  writeOctal(view, 124, 12, size);
  writeOctal(view, 136, 12, Math.floor((header.mtime?.getTime() ?? Date.now()) / 1000));
  writeString(view, 156, 1, TYPEFLAG[header.type ?? "file"]);
  writeString(view, 157, 100, header.linkname);
  writeString(view, 257, 6, "ustar\0");
  writeString(view, 263, 2, "00");
  writeString(view, 265, 32, header.uname);
  writeString(view, 297, 32, header.gname);
  writeString(view, 345, 155, prefix);
  writeChecksum(view);
}

/** The pax records an entry needs, in modern-tar's order; none when ustar suffices. */
function paxRecords(header: TarHeader, size: number): [string, string][] | undefined {
  const records: Record<string, string> = {};
  if (tooLong(header.name, 100) && ustarSplit(header.name) === undefined) {
    records.path = header.name;
  }
  if (header.linkname && tooLong(header.linkname, 100)) records.linkpath = header.linkname;
  if (header.uname && tooLong(header.uname, 32)) records.uname = header.uname;
  if (header.gname && tooLong(header.gname, 32)) records.gname = header.gname;
  if (header.uid != null && header.uid > 0o7777777) records.uid = String(header.uid);
  if (header.gid != null && header.gid > 0o7777777) records.gid = String(header.gid);
  if (header.pax) Object.assign(records, header.pax);
  if (size > 0o77777777777 || "size" in records) records.size = String(size);
  const entries = Object.entries(records);
  return entries.length === 0 ? undefined : entries;
}

/** Room for `n` bytes in the scratch buffer. */
function reserve(n: number): Uint8Array<ArrayBuffer> {
  if (scratch.length < n) scratch = new Uint8Array(Math.ceil(n / 4096) * 4096);
  return scratch;
}

/** "PaxHeader/<name>" cut to 100 bytes, as modern-tar cuts it. */
function paxName(name: string): string {
  const full = `PaxHeader/${name}`;
  if (!NON_ASCII.test(full)) return full.slice(0, 100);
  return decoder.decode(encoder.encode(full).slice(0, 100));
}

/**
 * The header blocks of an entry (a pax header, its records and padding, then the ustar
 * block), as a view of a buffer reused by the next call: write it out before encoding again.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * const blocks = encodeHeader({ name: "data/a.txt", size: 5, type: "file", mode: 0o644 });
 * assertEquals(blocks.length, 512);
 * assertEquals(new TextDecoder().decode(blocks.subarray(257, 262)), "ustar");
 * ```
 */
export function encodeHeader(header: TarHeader): Uint8Array<ArrayBuffer> {
  const size = isBodyless(header.type) ? 0 : header.size;
  const records = paxRecords(header, size);
  if (!records) {
    const buffer = reserve(512);
    ustarBlock(buffer, 0, header, size);
    return buffer.subarray(0, 512);
  }
  let text = "";
  for (const [key, value] of records) {
    const record = `${key}=${value}\n`;
    const part = utf8Length(record) + 1;
    const total = part + String(part + String(part).length).length;
    text += `${total} ${record}`;
  }
  const bodyLength = utf8Length(text);
  const padded = Math.ceil(bodyLength / 512) * 512;
  const buffer = reserve(512 + padded + 512);
  ustarBlock(buffer, 0, {
    name: paxName(header.name),
    size: bodyLength,
    type: "pax-header",
    mode: 0o644,
    ...(header.mtime ? { mtime: header.mtime } : {}),
    ...(header.uname !== undefined ? { uname: header.uname } : {}),
    ...(header.gname !== undefined ? { gname: header.gname } : {}),
    ...(header.uid !== undefined ? { uid: header.uid } : {}),
    ...(header.gid !== undefined ? { gid: header.gid } : {}),
  }, bodyLength);
  buffer.fill(0, 512, 512 + padded);
  encoder.encodeInto(text, buffer.subarray(512, 512 + bodyLength));
  ustarBlock(buffer, 512 + padded, header, size);
  return buffer.subarray(0, 512 + padded + 512);
}
