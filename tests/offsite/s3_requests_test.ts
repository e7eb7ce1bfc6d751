import { strictEqual } from "node:assert/strict";
import { PART_BYTES, partSizeFor } from "../../lib/offsite/s3_requests.ts";

Deno.test("partSizeFor keeps 8 MiB parts and grows them only to stay under 10,000 parts", () => {
  strictEqual(partSizeFor(0), PART_BYTES);
  strictEqual(partSizeFor(60e6), PART_BYTES);
  strictEqual(partSizeFor(9_000 * PART_BYTES), PART_BYTES);
  for (const bytes of [9_000 * PART_BYTES + 1, 1e12, 5e12]) {
    const part = partSizeFor(bytes);
    strictEqual(part > PART_BYTES, true);
    strictEqual(Math.ceil(bytes / part) <= 9_000, true, `${bytes} bytes in ${part}-byte parts`);
  }
});
