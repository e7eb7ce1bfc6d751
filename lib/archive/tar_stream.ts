// Tar entries written into a TarOut: header blocks (tar_format.ts) and padding are copied
// into the current block; file content is read straight into the block. Each entry's
// content must be exactly its header's size, or the stream fails.

import type { TarHeader } from "../base/tar_header.ts";
import type { TarOut } from "../codec/block_output.ts";
import { encodeHeader } from "./tar_format.ts";

/** An entry being written: its content goes in through `room` and `took`. */
export interface TarEntryWriter {
  /** The free space to read up to `max` content bytes into. */
  room(max: number): Uint8Array<ArrayBuffer>;
  /** Stores the `n` bytes just read into `room()`; a promise only when it must wait. */
  took(n: number): Promise<void> | undefined;
  /** Stores a copy of `bytes`. */
  copy(bytes: Uint8Array): Promise<void>;
  /** Ends the entry; its content must have been exactly the header's size. */
  end(): Promise<void>;
}

/** Writes tar entries, in order, into a {@linkcode TarOut}. */
export interface TarStream {
  /** Starts an entry: its header blocks go out. */
  begin(header: TarHeader): Promise<TarEntryWriter>;
  /** Writes an entry without content. */
  add(header: TarHeader): Promise<void>;
  /** Writes the end-of-archive marker. */
  finish(): Promise<void>;
}

/** Padding and the end-of-archive marker. */
const ZEROS = new Uint8Array(1024);

/**
 * A tar stream into `out`.
 *
 * @example
 * ```ts ignore
 * const tar = tarStream(out);
 * const entry = await tar.begin({ name: "a.txt", size: 5, type: "file" });
 * await entry.copy(new TextEncoder().encode("hello"));
 * await entry.end();
 * await tar.finish();
 * ```
 */
export function tarStream(out: TarOut): TarStream {
  return {
    async begin(header) {
      await out.write(encodeHeader(header));
      const expected = header.size;
      let size = 0;
      const more = (n: number) => {
        size += n;
        if (size > expected) {
          throw new Error(`"${header.name}" exceeds given size of ${expected} bytes.`);
        }
      };
      return {
        room(max) {
          const room = out.room();
          return room.length > max ? room.subarray(0, max) : room;
        },
        took(n) {
          more(n);
          return out.advance(n);
        },
        async copy(bytes) {
          more(bytes.length);
          await out.write(bytes);
        },
        async end() {
          if (size !== expected) throw new Error(`Size mismatch for "${header.name}".`);
          const padding = -size & 511;
          if (padding > 0) await out.write(ZEROS.subarray(0, padding));
        },
      };
    },
    async add(header) {
      await out.write(encodeHeader(header));
    },
    async finish() {
      await out.write(ZEROS);
    },
  };
}
