import { strictEqual } from "node:assert/strict";
import { describeServer } from "../../lib/postgres/pg_errors.ts";

Deno.test("describeServer names host, port, database and user but never the password", () => {
  strictEqual(describeServer("postgres://app:s3cret@db:5433/shop"), "db:5433/shop as app");
  strictEqual(describeServer("postgresql://db/shop"), "db:5432/shop as the default user");
  strictEqual(describeServer("postgres://a%40b:x@db"), "db:5432/ as a@b");
  strictEqual(
    describeServer("postgres://pg:pw@/shop?host=/var/run/postgresql&port=5433"),
    "/var/run/postgresql:5433/shop as pg",
  );
});
