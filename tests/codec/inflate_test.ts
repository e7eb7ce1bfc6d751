import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { inflate, streamReader, tappedReader } from "../../lib/codec/inflate.ts";
import { startCodecPool } from "../../lib/codec/codec_pool.ts";

Deno.test("streamReader fills buffers across chunk boundaries and returns less only at the end", async () => {
  const bytes = Uint8Array.from({ length: 106 }, (_, i) => i);
  const reader = streamReader(
    ReadableStream.from([bytes.subarray(0, 1), bytes.subarray(1, 6), bytes.subarray(6)]),
  );
  const got: number[] = [];
  for (const size of [3, 3, 50, 100]) {
    const buffer = new Uint8Array(size);
    const n = await reader.fill(buffer);
    got.push(n);
    if (n > 0) strictEqual(buffer[0], got.slice(0, -1).reduce((a, b) => a + b, 0));
  }
  deepStrictEqual(got, [3, 3, 50, 50]);
  strictEqual(await reader.fill(new Uint8Array(1)), 0);
});

Deno.test("inflate reads a foreign gzip stream from a stream reader, chunk by chunk", async () => {
  const plain = new TextEncoder().encode("row\n".repeat(100_000));
  const gz = gzipSync(plain);
  const chunks = [gz.subarray(0, 7), gz.subarray(7, 1000), gz.subarray(1000)];
  using pool = startCodecPool();
  const seen: number[] = [];
  const reader = tappedReader(streamReader(ReadableStream.from(chunks)), (c) => {
    seen.push(c.length);
  });
  const out = inflate(reader, pool, "gzip");
  deepStrictEqual(new Uint8Array(await new Response(out.stream).arrayBuffer()), plain);
  strictEqual(seen.reduce((a, b) => a + b, 0), gz.length);
});
