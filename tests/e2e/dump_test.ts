// backupd dump against a real PostgreSQL 15: one table of an archive, and of a moment before
// a bad DELETE, dumped from a scratch server and loaded into a fresh cluster with pg_restore,
// row for row; plain to stdout; roles; every database; names that do not exist refused with
// the nearest ones, nothing written.

import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  backupd,
  backupNow,
  descendantsOf,
  run,
  signalProcess,
  spawnBackupd,
  tempDir,
} from "../helpers.ts";
import { asPostgres, type Cluster, cluster, mustRun, PASSWORD } from "./local_pg.ts";
import { baseRecorded, caughtUpAfter, walDaemon } from "./pitr_load.ts";
import { startCeph } from "./ceph.ts";

/** The employee database: departments and employees with a foreign key, an index, an
 * identity column and a trigger. */
const SCHEMA = `
CREATE DATABASE employees;
\\c employees
CREATE TABLE departments (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE employees (
  id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text NOT NULL,
  department int NOT NULL REFERENCES departments (id),
  changed timestamptz
);
CREATE INDEX employees_department ON employees (department);
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN NEW.changed := now(); RETURN NEW; END $$;
CREATE TRIGGER employees_touch BEFORE INSERT OR UPDATE ON employees
  FOR EACH ROW EXECUTE FUNCTION touch();
INSERT INTO departments SELECT g, 'department ' || g FROM generate_series(1, 5) g;
INSERT INTO employees (name, department) SELECT 'employee ' || g, 1 + g % 5 FROM generate_series(1, 1000) g;
CREATE ROLE auditor LOGIN;
`;

async function employeesCluster(work: string): Promise<Cluster> {
  await Deno.chmod(work, 0o755);
  const db = await cluster(work, `${work}/pgdata`, { checksums: true });
  await db.start();
  await Deno.writeTextFile(`${work}/schema.sql`, SCHEMA);
  await mustRun(
    asPostgres(
      "psql",
      ...db.socketArgs,
      "-d",
      "postgres",
      "-v",
      "ON_ERROR_STOP=1",
      "-q",
      "-f",
      `${work}/schema.sql`,
    ),
    "schema",
  );
  return db;
}

/** Rows of a table as text, ordered: what two copies must share. */
async function rowsOf(db: Cluster, database: string, sql: string): Promise<string> {
  return (await mustRun(
    asPostgres("psql", ...db.socketArgs, "-d", database, "-tA", "-c", sql),
    sql,
  )).trim();
}

/** A fresh database `copy` with what the employees table refers to: its departments, its
 * trigger's function. */
async function beside(fresh: Cluster): Promise<void> {
  await fresh.psql("CREATE DATABASE copy");
  await rowsOf(
    fresh,
    "copy",
    "CREATE TABLE departments (id int PRIMARY KEY, name text); INSERT INTO departments SELECT g, 'd' FROM generate_series(1, 5) g; CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.changed := now(); RETURN NEW; END $$",
  );
}

/**
 * The employees rows a custom-format dump gives in a fresh cluster (`WORK/fresh`) that has
 * what the table refers to.
 */
async function restoredRows(work: string, file: string): Promise<string> {
  const fresh = await cluster(`${work}/fresh`, `${work}/fresh/pgdata`, {});
  await fresh.start();
  try {
    await beside(fresh);
    // The dump is the operator's (mode 0600); the postgres user reads a copy.
    await Deno.chmod(file, 0o644);
    await mustRun(
      asPostgres("pg_restore", ...fresh.socketArgs, "-d", "copy", "--no-owner", file),
      "pg_restore",
    );
    return await rowsOf(fresh, "copy", "SELECT id, name, department FROM employees ORDER BY id");
  } finally {
    await fresh.stop();
  }
}

Deno.test("dump of one table from an archive loads into a fresh cluster row for row; its sidecar matches; plain to stdout; roles; every database", async () => {
  await using work = await tempDir("backupd-dump-");
  const db = await employeesCluster(work.path);
  const dest = `${work.path}/backup`;
  const url = db.url.replace(/\/postgres$/, "/employees");
  const made = await backupNow(db.data, dest, ["--postgres", url], { PGPASSWORD: PASSWORD });
  strictEqual(made.code, 0, made.stderr);
  const want = await rowsOf(
    db,
    "employees",
    "SELECT id, name, department FROM employees ORDER BY id",
  );
  await db.stop();

  const file = `${work.path}/employees.dump`;
  const dumped = await backupd([
    "dump",
    "--dest",
    dest,
    "--postgres",
    url,
    "--table",
    "public.employees",
    "--to",
    file,
    "--json",
  ]);
  strictEqual(dumped.code, 0, dumped.stderr);
  const report = JSON.parse(dumped.stdout);
  deepStrictEqual([report.result, report.rows], ["passed", { "employees.public.employees": 1000 }]);
  const bytes = await Deno.readFile(file);
  const sha = createHash("sha256").update(bytes).digest("hex");
  strictEqual(report.sha256, sha);
  strictEqual(await Deno.readTextFile(`${file}.sha256`), `${sha}  employees.dump\n`);
  match(dumped.stderr, /INFO dump done to=\S+employees\.dump bytes=\d+/);
  strictEqual([...Deno.readDirSync(work.path)].some((e) => e.name.includes("partial")), false);

  // A fresh cluster with the departments it refers to takes the table, row for row.
  strictEqual(await restoredRows(work.path, file), want);

  // Plain to stdout; the roles; every database.
  const plain = await backupd([
    "dump",
    "--dest",
    dest,
    "--database",
    "employees",
    "--table",
    "departments",
    "--to",
    "-",
  ]);
  strictEqual(plain.code, 0, plain.stderr);
  match(plain.stdout, /^CREATE TABLE public\.departments \(/m);
  strictEqual(plain.stdout.includes("CREATE TABLE public.employees"), false);
  const roles = await backupd(["dump", "--dest", dest, "--globals", "--to", "-"]);
  strictEqual(roles.code, 0, roles.stderr);
  match(roles.stdout, /^CREATE ROLE auditor;$/m);
  const all = await backupd(["dump", "--dest", dest, "--all-databases", "--to", "-"]);
  strictEqual(all.code, 0, all.stderr);
  match(all.stdout, /^\\connect employees$/m);
  match(all.stdout, /^CREATE TABLE public\.employees \(/m);
  // Every database and the roles load into another fresh cluster with psql, equal.
  const other = await cluster(`${work.path}/other`, `${work.path}/other/pgdata`, {});
  await other.start();
  try {
    const script = `${work.path}/other/all.sql`;
    await Deno.writeTextFile(script, all.stdout);
    await Deno.chmod(script, 0o644);
    await mustRun(
      asPostgres("psql", ...other.socketArgs, "-d", "postgres", "-q", "-f", script),
      "psql -f all.sql",
    );
    strictEqual(
      await rowsOf(other, "employees", "SELECT id, name, department FROM employees ORDER BY id"),
      want,
    );
    strictEqual(
      await rowsOf(other, "postgres", "SELECT count(*) FROM pg_roles WHERE rolname = 'auditor'"),
      "1",
    );
  } finally {
    await other.stop();
  }
});

Deno.test("dump refuses a table, schema or database the restored cluster does not have, naming the nearest; nothing is written", async () => {
  await using work = await tempDir("backupd-dump-bad-");
  const db = await employeesCluster(work.path);
  const dest = `${work.path}/backup`;
  const url = db.url.replace(/\/postgres$/, "/employees");
  const made = await backupNow(db.data, dest, ["--postgres", url], { PGPASSWORD: PASSWORD });
  strictEqual(made.code, 0, made.stderr);
  await db.stop();
  const cases: [string[], RegExp][] = [
    [
      ["--table", "public.employes"],
      /Cannot dump the table "public\.employes": database "employees" of the restored cluster has none; nearest: public\.employees/,
    ],
    [
      ["--schema", "pubic"],
      /Cannot dump the schema "pubic": database "employees" of the restored cluster has none; nearest: public/,
    ],
    [
      ["--database", "employes"],
      /Cannot dump the database "employes": the restored cluster has none; nearest: employees/,
    ],
  ];
  for (const [args, expected] of cases) {
    const file = `${work.path}/bad.dump`;
    const out = await backupd(["dump", "--dest", dest, "--postgres", url, ...args, "--to", file]);
    strictEqual(out.code, 2, out.stderr);
    const errors = out.stderr.split("\n").filter((l) => / ERROR /.test(l));
    strictEqual(errors.length, 1, out.stderr);
    const error = /ERROR dump could not run error=(".*")$/.exec(errors[0] as string)?.[1];
    match(JSON.parse(error ?? '""'), expected);
    strictEqual(/unexpected error|\n\s+at /.test(out.stderr), false, out.stderr);
    deepStrictEqual(
      [...Deno.readDirSync(work.path)].filter((e) => e.name.includes("bad.dump")),
      [],
    );
  }
  // A folder the dump cannot go to is said before anything is restored.
  const nowhere = await backupd(["dump", "--dest", dest, "--to", `${work.path}/no/such/x.dump`]);
  strictEqual(nowhere.code, 2, nowhere.stderr);
  match(nowhere.stderr, /ERROR dump could not run error="Cannot write the dump \\".*x\.dump\\": /);
  strictEqual(nowhere.stderr.includes("dump: restored"), false, nowhere.stderr);
  const custom = await backupd(["dump", "--dest", dest, "--all-databases", "--to", "x.dump"]);
  strictEqual(custom.code, 2);
  match(
    custom.stderr,
    /^backupd: Cannot dump several databases or the roles as custom: give --format plain$/m,
  );
});

Deno.test("dump --to-time one second before a bad DELETE holds exactly the rows of that second", async () => {
  await using work = await tempDir("backupd-dump-pit-");
  const db = await employeesCluster(work.path);
  const dest = `${work.path}/backup`;
  const url = db.url.replace(/\/postgres$/, "/employees");
  let before = "";
  let moment = "";
  {
    await using daemon = await walDaemon(db, dest, { interval: "1s", extra: ["--run-on-start"] });
    await baseRecorded(dest);
    await rowsOf(
      db,
      "employees",
      "UPDATE employees SET name = name || ' (moved)' WHERE id % 7 = 0",
    );
    await new Promise((r) => setTimeout(r, 1100));
    moment = new Date().toISOString();
    before = await rowsOf(
      db,
      "employees",
      "SELECT id, name, department FROM employees ORDER BY id",
    );
    await new Promise((r) => setTimeout(r, 1100));
    await rowsOf(db, "employees", "DELETE FROM employees WHERE department = 3");
    await rowsOf(db, "employees", "INSERT INTO employees (name, department) VALUES ('after', 1)");
    await caughtUpAfter(dest, Date.now());
    await daemon.stop();
  }
  await db.stop();
  const file = `${work.path}/pit.dump`;
  const dumped = await backupd([
    "dump",
    "--dest",
    dest,
    "--postgres",
    url,
    "--to-time",
    moment,
    "--table",
    "employees",
    "--to",
    file,
  ]);
  strictEqual(dumped.code, 0, dumped.stderr);
  strictEqual(await restoredRows(work.path, file), before);
});

Deno.test("dump --to-time before a bad DELETE --into the live server: the table beside the live one, row for row; the live data untouched; README's SQL puts the rows back", async () => {
  await using work = await tempDir("backupd-dump-into-");
  const db = await employeesCluster(work.path);
  const dest = `${work.path}/backup`;
  const url = db.url.replace(/\/postgres$/, "/employees");
  await using daemon = await walDaemon(db, dest, { interval: "1s", extra: ["--run-on-start"] });
  await baseRecorded(dest);
  try {
    await new Promise((r) => setTimeout(r, 1100));
    const moment = new Date().toISOString();
    const before = await rowsOf(
      db,
      "employees",
      "SELECT id, name, department FROM employees ORDER BY id",
    );
    await new Promise((r) => setTimeout(r, 1100));
    // The bad DELETE, and writes that go on after it.
    const xid = (await rowsOf(
      db,
      "employees",
      "BEGIN; DELETE FROM employees WHERE department = 3; SELECT txid_current(); COMMIT;",
    )).split("\n").find((l) => /^\d+$/.test(l));
    await rowsOf(
      db,
      "employees",
      "INSERT INTO employees (name, department) VALUES ('hired after', 1)",
    );
    await rowsOf(db, "employees", "UPDATE departments SET name = 'renamed after' WHERE id = 2");
    const liveBefore = await rowsOf(
      db,
      "employees",
      "SELECT id, name, department FROM employees ORDER BY id",
    );
    await caughtUpAfter(dest, Date.now());
    // Found by table and time in the archived WAL: its xid, to the microsecond, 200 rows.
    const commits = await backupd([
      "wal",
      "commits",
      "--dest",
      dest,
      "--postgres",
      url,
      "--from",
      moment,
      "--to",
      new Date().toISOString(),
      "--table",
      "employees",
    ], { PGPASSWORD: PASSWORD });
    strictEqual(commits.code, 0, commits.stderr);
    match(
      commits.stdout,
      new RegExp(
        `^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{6}Z  xid ${xid}  COMMIT  public\\.employees: 200 deleted$`,
        "m",
      ),
    );
    match(commits.stdout, / {2}COMMIT {2}public\.employees: 1 inserted$/m);
    strictEqual(commits.stdout.includes("departments"), false, commits.stdout);
    // Just before that transaction, without a clock: exactly the rows before it.
    const byXid = await backupd([
      "dump",
      "--dest",
      dest,
      "--postgres",
      url,
      "--to-time",
      `before-xid:${xid}`,
      "--table",
      "public.employees",
      "--format",
      "plain",
      "--to",
      "-",
    ], { PGPASSWORD: PASSWORD });
    strictEqual(byXid.code, 0, byXid.stderr);
    const copied = byXid.stdout.split("\n").filter((l) => /^\d+\temployee \d+/.test(l)).length;
    strictEqual(copied, before.split("\n").length, byXid.stderr);
    const out = await backupd([
      "dump",
      "--dest",
      dest,
      "--postgres",
      url,
      "--to-time",
      moment,
      "--table",
      "public.employees",
      "--into",
      "--json",
    ], { PGPASSWORD: PASSWORD });
    strictEqual(out.code, 0, out.stderr);
    strictEqual(out.stderr.includes(PASSWORD), false, "the password is never logged");
    const report = JSON.parse(out.stdout);
    const schema = /^schema (restored_\d{8}_\d{6}) in database employees$/.exec(
      report.loaded.created,
    )?.[1];
    strictEqual(typeof schema, "string", report.loaded.created);
    deepStrictEqual(report.loaded.leftOut, [`employees.employees_department_fkey -> departments`]);
    // The copy holds exactly the rows of that moment; the live table kept its later writes.
    strictEqual(
      await rowsOf(
        db,
        "employees",
        `SELECT id, name, department FROM ${schema}.employees ORDER BY id`,
      ),
      before,
    );
    strictEqual(
      await rowsOf(db, "employees", "SELECT id, name, department FROM employees ORDER BY id"),
      liveBefore,
    );
    strictEqual(
      await rowsOf(db, "employees", "SELECT name FROM departments WHERE id = 2"),
      "renamed after",
    );
    // Its index and identity came along.
    match(
      await rowsOf(
        db,
        "employees",
        `SELECT indexdef FROM pg_indexes WHERE schemaname = '${schema}' ORDER BY 1`,
      ),
      /employees_department/,
    );
    // README's SQL: the deleted rows back, then what differs both ways is only the later writes.
    await rowsOf(
      db,
      "employees",
      `INSERT INTO employees OVERRIDING SYSTEM VALUE SELECT r.* FROM ${schema}.employees r WHERE NOT EXISTS (SELECT 1 FROM employees e WHERE e.id = r.id)`,
    );
    strictEqual(
      await rowsOf(
        db,
        "employees",
        `SELECT count(*) FROM (SELECT id, name, department FROM ${schema}.employees EXCEPT SELECT id, name, department FROM employees) missing`,
      ),
      "0",
    );
    strictEqual(
      await rowsOf(
        db,
        "employees",
        `SELECT name FROM (SELECT id, name, department FROM employees EXCEPT SELECT id, name, department FROM ${schema}.employees) added`,
      ),
      "hired after",
    );
    // The same schema again: refused, nothing loaded.
    const again = await backupd([
      "dump",
      "--dest",
      dest,
      "--postgres",
      url,
      "--to-time",
      moment,
      "--table",
      "public.employees",
      "--into",
    ], { PGPASSWORD: PASSWORD });
    strictEqual(again.code, 2, again.stderr);
    match(
      again.stderr,
      new RegExp(`the schema \\\\"${schema}\\\\" exists there already; nothing was loaded`),
    );
  } finally {
    await daemon.stop();
    await db.stop();
  }
});

/** Reads a child's stderr until a line matches; the rest is kept for the end. */
async function stderrUntil(
  child: Deno.ChildProcess,
  marker: RegExp,
): Promise<{ seen: string; rest: Promise<string> }> {
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!marker.test(seen)) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += value;
  }
  const rest = (async () => {
    let text = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return text;
      text += value;
    }
  })();
  return { seen, rest };
}

Deno.test("SIGTERM during the restore, the start or the dump: exit 143, the server stopped, the scratch folder gone, no dump under its name; a plain archive of a stopped server dumps", async () => {
  await using work = await tempDir("backupd-dump-term-");
  const db = await employeesCluster(work.path);
  const dest = `${work.path}/backup`;
  // Enough rows that pg_dump takes seconds: the last SIGTERM lands while it runs.
  await rowsOf(
    db,
    "employees",
    "CREATE TABLE ballast AS SELECT g, md5(g::text) AS t FROM generate_series(1, 2000000) g",
  );
  await db.stop();
  // A plain archive of the stopped server's folder: no --postgres, no WAL.
  const made = await backupNow(db.data, dest, []);
  strictEqual(made.code, 0, made.stderr);
  const drills = `${work.path}/drills`;
  await Deno.mkdir(drills);
  const file = `${work.path}/term.dump`;
  const markers = [
    /INFO dump started /,
    /INFO dump: restored /,
    /INFO dump: started and recovered /,
  ];
  for (const marker of markers) {
    const child = spawnBackupd([
      "dump",
      "--dest",
      dest,
      "--database",
      "employees",
      "--drill-dir",
      drills,
      "--to",
      file,
    ]);
    const { seen, rest } = await stderrUntil(child, marker);
    match(seen, marker);
    signalProcess(descendantsOf(child.pid)[0] as number, "SIGTERM");
    const stderr = seen + await rest;
    await child.stdout.cancel();
    const { code } = await child.status;
    strictEqual(code, 143, stderr);
    deepStrictEqual([...Deno.readDirSync(drills)].map((e) => e.name), [], stderr);
    deepStrictEqual(
      [...Deno.readDirSync(work.path)].filter((e) => e.name.includes("term.dump")),
      [],
    );
    strictEqual((await run("pgrep", ["-f", `${drills}/backupd-drill-scratch-`])).stdout.trim(), "");
  }
  const plain = await backupd([
    "dump",
    "--dest",
    dest,
    "--database",
    "employees",
    "--to",
    file,
    "--drill-dir",
    drills,
  ]);
  strictEqual(plain.code, 0, plain.stderr);
  match(plain.stdout, /^ {2}employees\.public\.employees: 1000 rows$/m);
  match(plain.stdout, /^ {2}employees\.public\.ballast: 2000000 rows$/m);
});

Deno.test("dump from the bucket alone (DEST deleted): the table of the newest archive, row for row", async () => {
  await using ceph = await startCeph("backups");
  await using work = await tempDir("backupd-dump-bucket-");
  const db = await employeesCluster(work.path);
  const dest = `${work.path}/backup`;
  const bucket = "s3://backups/dump";
  const env = ceph.env(bucket);
  const url = db.url.replace(/\/postgres$/, "/employees");
  const made = await backupNow(db.data, dest, ["--postgres", url], {
    ...env,
    PGPASSWORD: PASSWORD,
  });
  strictEqual(made.code, 0, made.stderr);
  const want = await rowsOf(
    db,
    "employees",
    "SELECT id, name, department FROM employees ORDER BY id",
  );
  await db.stop();
  await Deno.remove(dest, { recursive: true });
  const out = await backupd([
    "dump",
    bucket,
    "--dest",
    dest,
    "--database",
    "employees",
    "--table",
    "employees",
    "--format",
    "plain",
    "--to",
    "-",
  ], env);
  strictEqual(out.code, 0, out.stderr);
  match(out.stderr, /INFO download done archive=s3:\/\/backups\/dump\/\d{4}-\d\d-\d\d\//);
  const rows = out.stdout.split("\n").filter((l) => /^\d+\temployee \d+\t\d\t/.test(l))
    .map((l) => l.split("\t").slice(0, 3).join("|"));
  strictEqual(rows.join("\n"), want);
  // Nothing of the download stays in the scratch's folder.
  strictEqual(
    [...Deno.readDirSync(Deno.env.get("TMPDIR") ?? "/tmp")].some((e) =>
      e.name.startsWith(".backupd-dump-download-")
    ),
    false,
  );
});
