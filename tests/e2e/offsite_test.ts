// Off-site copies against a real one-node Ceph cluster (mon, memstore osd, rgw): uploads,
// multipart, remote list/verify/restore, remote retention, and the rgw dying mid-upload.

import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import {
  BACKUPD,
  backupd,
  backupNow,
  baseEnv,
  EVERY_RULE_OFF,
  flipMiddleByte,
  listFiles,
  onlyArchive,
  randomFile,
  run,
  sha256File,
  signalProcess,
  spawnBackupd,
  tempDir,
  waitFor,
} from "../helpers.ts";
import { byAge, parseArchiveName } from "../../lib/store/names.ts";
import { type Ceph, startCeph } from "./ceph.ts";

const BUCKET = "backups";

/** Collects a child's stderr as it comes; `done` gives all of it at the end. */
function collectStderr(child: Deno.ChildProcess): { text: () => string; done: Promise<string> } {
  let text = "";
  const done = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) text += chunk;
    return text;
  })();
  return { text: () => text, done };
}

/** Keys under `prefix/`, relative to it, with their sizes. */
async function objectsOf(ceph: Ceph, prefix: string): Promise<Record<string, number>> {
  const page = await ceph.client.send(
    new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${prefix}/` }),
  );
  return Object.fromEntries(
    (page.Contents ?? []).map((o) => [(o.Key ?? "").slice(prefix.length + 1), o.Size ?? 0]),
  );
}

async function objectBytes(ceph: Ceph, key: string): Promise<Uint8Array> {
  const object = await ceph.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return await object.Body?.transformToByteArray() ?? new Uint8Array();
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** The archives (not sidecars) under a DEST, relative to it, oldest first. */
async function archivesIn(dest: string): Promise<string[]> {
  const archives = (await listFiles(dest)).flatMap((f) => {
    const parsed = parseArchiveName(f.slice(0, 10), f.slice(11));
    return parsed ? [parsed] : [];
  });
  return archives.sort(byAge).map((a) => a.path);
}

/** Checks that the bucket holds `rel` exactly as DEST does: bytes, sidecar and metadata. */
async function sameInBucket(ceph: Ceph, prefix: string, dest: string, rel: string) {
  const local = await Deno.readFile(`${dest}/${rel}`);
  const remote = await objectBytes(ceph, `${prefix}/${rel}`);
  strictEqual(remote.length, local.length, `${rel}: size`);
  strictEqual(sha256(remote), sha256(local), `${rel}: bytes`);
  const sidecar = new TextDecoder().decode(await objectBytes(ceph, `${prefix}/${rel}.sha256`));
  strictEqual(sidecar, await Deno.readTextFile(`${dest}/${rel}.sha256`), `${rel}: sidecar`);
  const head = await ceph.client.send(
    new HeadObjectCommand({ Bucket: BUCKET, Key: `${prefix}/${rel}` }),
  );
  strictEqual(head.Metadata?.sha256, sha256(local), `${rel}: sha256 metadata`);
}

Deno.test("backupd now uploads the archive and its sidecar, with credentials from _FILE variables", async () => {
  await using ceph = await startCeph(BUCKET);
  await using dir = await tempDir();
  const source = `${dir.path}/data`;
  await Deno.mkdir(source);
  await Deno.writeTextFile(`${source}/employees.csv`, "1,Ada\n2,Grace\n".repeat(1000));
  await Deno.writeTextFile(`${dir.path}/id`, `${ceph.accessKey}\n`);
  await Deno.writeTextFile(`${dir.path}/secret`, `${ceph.secretKey}\n`);
  const { AWS_ACCESS_KEY_ID: _id, AWS_SECRET_ACCESS_KEY: _secret, ...env } = ceph.env(
    `s3://${BUCKET}/db`,
  );
  const dest = `${dir.path}/backup`;
  // Multipart uploads an interrupted run would leave, and one of somebody else's.
  for (const key of ["db/2027-01-02/01-00-00.tar.gz", "db/notes/upload.bin"]) {
    await ceph.client.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }));
  }
  const made = await backupNow(source, dest, [], {
    ...env,
    AWS_ACCESS_KEY_ID_FILE: `${dir.path}/id`,
    AWS_SECRET_ACCESS_KEY_FILE: `${dir.path}/secret`,
  });
  strictEqual(made.code, 0, made.stderr);
  const [rel] = await archivesIn(dest);
  match(made.stderr, new RegExp(`INFO upload done archive=${rel} to=s3://${BUCKET}/db/${rel} `));
  deepStrictEqual(Object.keys(await objectsOf(ceph, "db")).sort(), [
    rel,
    `${rel}.sha256`,
  ]);
  await sameInBucket(ceph, "db", dest, rel ?? "");
  match(
    made.stderr,
    /INFO aborted an upload left by an interrupted run to=s3:\/\/backups\/db\/2027-01-02\/01-00-00\.tar\.gz\n/,
  );
  const uploads = await ceph.client.send(
    new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: "db/" }),
  );
  deepStrictEqual(uploads.Uploads?.map((u) => u.Key), ["db/notes/upload.bin"]);

  const listed = await backupd(["list", "--remote", "--dest", dest], ceph.env(`s3://${BUCKET}/db`));
  strictEqual(listed.code, 0, listed.stderr);
  match(
    listed.stdout,
    new RegExp(
      `^ARCHIVE +SIZE +AGE +KIND +WHERE\n${rel}  +[0-9.]+ [KM]?i?B  just now  gzip(\\+age)?  bucket\n1 archive in s3://${BUCKET}/db/\n$`,
    ),
  );

  const wrongSecret = await backupNow(source, dest, [], {
    ...ceph.env(`s3://${BUCKET}/db`),
    AWS_SECRET_ACCESS_KEY: "not-the-secret",
  });
  strictEqual(wrongSecret.code, 2);
  // A refusal is not tried again: no other answer is coming.
  strictEqual(wrongSecret.stderr.includes("trying again"), false, wrongSecret.stderr);
  match(
    wrongSecret.stderr,
    /ERROR backup failed error="Cannot (list|upload to) \\"s3:\/\/backups\/db.*SignatureDoesNotMatch \(HTTP 403\).*the local archive .* is kept; the next run uploads what the bucket lacks\)"\n$/,
  );
});

Deno.test("a 60 MB archive goes up in parts, and verify and restore read it back from the bucket", async () => {
  await using ceph = await startCeph(BUCKET);
  await using dir = await tempDir();
  const source = `${dir.path}/data`;
  await randomFile(`${source}/base/16384/2619`, 60);
  await Deno.writeTextFile(`${source}/PG_VERSION`, "15\n");
  const env = ceph.env(`s3://${BUCKET}/db`);
  const dest = `${dir.path}/backup`;
  const made = await backupNow(source, dest, [], env);
  strictEqual(made.code, 0, made.stderr);
  const archive = await onlyArchive(dest);
  const rel = archive.slice(dest.length + 1);
  // 60 MB in 8 MiB parts: 8 parts, and the ETag of a multipart object says so.
  match(made.stderr, / INFO upload done .* parts=8 /);
  const head = await ceph.client.send(
    new HeadObjectCommand({ Bucket: BUCKET, Key: `db/${rel}` }),
  );
  match(head.ETag ?? "", /-8"$/);
  await sameInBucket(ceph, "db", dest, rel);

  const verified = await backupd(["verify", "--remote", "--dest", dest], env);
  strictEqual(verified.code, 0, verified.stderr);
  match(
    verified.stdout,
    new RegExp(
      `^OK s3://${BUCKET}/db/${rel}: 5 entries, 57\\.2 MiB of content, sha256 matches the sidecar\n$`,
    ),
  );

  const url = `s3://${BUCKET}/db/${rel}`;
  const restored = await backupd(["restore", url, "--to", `${dir.path}/restored`], env);
  strictEqual(restored.code, 0, restored.stderr);
  strictEqual(
    await sha256File(`${dir.path}/restored/base/16384/2619`),
    await sha256File(`${source}/base/16384/2619`),
  );
  strictEqual(await Deno.readTextFile(`${dir.path}/restored/PG_VERSION`), "15\n");
  // The download folder beside DIR is gone.
  deepStrictEqual((await listFiles(dir.path)).filter((f) => f.startsWith(".")), []);
  // A folder that is not empty is refused before anything is downloaded.
  const again = await backupd(["restore", url, "--to", `${dir.path}/restored`], env);
  strictEqual(again.code, 2);
  strictEqual(
    again.stderr,
    `backupd: Cannot restore into "${dir.path}/restored": not empty\n`,
  );

  // Damage the object in the bucket: verify fails, and restore writes nothing.
  await ceph.client.send(
    new PutObjectCommand({
      Bucket: BUCKET,
      Key: `db/${rel}`,
      Body: flipMiddleByte(await Deno.readFile(archive)),
    }),
  );
  const damaged = await backupd(["verify", url], env);
  strictEqual(damaged.code, 2);
  strictEqual(damaged.stdout, `FAILED ${url}: the sha256 does not match the sidecar\n`);
  const refused = await backupd(["restore", url, "--to", `${dir.path}/second`], env);
  strictEqual(refused.code, 2);
  match(
    refused.stderr,
    new RegExp(`backupd: Cannot restore "${url}": the sha256 does not match the sidecar\n$`),
  );
  strictEqual(await Deno.stat(`${dir.path}/second`).catch(() => undefined), undefined);
  deepStrictEqual((await listFiles(dir.path)).filter((f) => f.startsWith(".")), []);

  const missing = await backupd(["verify", `s3://${BUCKET}/db/2027-01-02/01-00-00.tar.gz`], env);
  strictEqual(missing.code, 2);
  strictEqual(
    missing.stdout,
    `FAILED s3://${BUCKET}/db/2027-01-02/01-00-00.tar.gz: no such object in the bucket\n`,
  );
});

Deno.test("encrypted archives go to the bucket as .tar.gz.age and restore from it with the identity", async () => {
  await using ceph = await startCeph(BUCKET);
  await using dir = await tempDir();
  const source = `${dir.path}/data`;
  await Deno.mkdir(source);
  await Deno.writeTextFile(`${source}/salaries.csv`, "Ada,100\n".repeat(5000));
  const keygen = await run("age-keygen", ["-o", `${dir.path}/key.txt`]);
  const recipient = /age1[0-9a-z]+/.exec(keygen.stderr)?.[0] ?? "";
  const env = { ...ceph.env(`s3://${BUCKET}/enc`), BACKUP_AGE_RECIPIENTS: recipient };
  const dest = `${dir.path}/backup`;
  const made = await backupNow(source, dest, [], env);
  strictEqual(made.code, 0, made.stderr);
  const [rel] = await archivesIn(dest);
  match(rel ?? "", /\.tar\.gz\.age$/);
  await sameInBucket(ceph, "enc", dest, rel ?? "");
  const stored = await objectBytes(ceph, `enc/${rel}`);
  strictEqual(new TextDecoder().decode(stored.subarray(0, 22)), "age-encryption.org/v1\n");

  const hashOnly = await backupd(["verify", "--remote", "--dest", dest], env);
  strictEqual(hashOnly.code, 0, hashOnly.stderr);
  strictEqual(
    hashOnly.stdout,
    `OK s3://${BUCKET}/enc/${rel}: sha256 matches the sidecar; encrypted, content not checked (give --age-identity)\n`,
  );
  const withKey = { ...env, BACKUP_AGE_IDENTITY_FILE: `${dir.path}/key.txt` };
  const full = await backupd(["verify", "--remote", "--all", "--dest", dest], withKey);
  strictEqual(full.code, 0, full.stderr);
  match(full.stdout, /: 2 entries, 39\.1 KiB of content, sha256 matches the sidecar\n$/);
  // A new machine: no DEST, only the bucket and the identity.
  const restored = await backupd([
    "restore",
    `s3://${BUCKET}/enc/${rel}`,
    "--to",
    `${dir.path}/new-host/data`,
  ], withKey);
  strictEqual(restored.code, 0, restored.stderr);
  strictEqual(
    await Deno.readTextFile(`${dir.path}/new-host/data/salaries.csv`),
    "Ada,100\n".repeat(5000),
  );
});

Deno.test("retention removes the same archives from the bucket as from DEST, with their sidecars", async () => {
  await using ceph = await startCeph(BUCKET);
  await using dir = await tempDir();
  const source = `${dir.path}/data`;
  await Deno.mkdir(source);
  await Deno.writeTextFile(`${source}/t`, "x");
  const env = ceph.env(`s3://${BUCKET}/kept`);
  const dest = `${dir.path}/backup`;
  for (let i = 0; i < 3; i++) {
    const made = await backupNow(source, dest, ["--keep-last", "2"], env);
    strictEqual(made.code, 0, made.stderr);
  }
  const local = await archivesIn(dest);
  strictEqual(local.length, 2);
  deepStrictEqual(
    Object.keys(await objectsOf(ceph, "kept")).sort(),
    local.flatMap((a) => [a, `${a}.sha256`]).sort(),
  );
  // With a rule of 1, prune plans the bucket too; a dry run changes nothing.
  const dry = await backupd(["prune", "--dry-run", "--dest", dest, "--keep-last", "1"], env);
  strictEqual(dry.code, 0, dry.stderr);
  match(
    dry.stdout,
    new RegExp(
      `remove s3://${BUCKET}/kept/${
        local[0]
      }  \\(.*\\)\ndry run in s3://${BUCKET}/kept/: would keep 1 and remove 1; nothing was changed\n$`,
    ),
  );
  strictEqual(Object.keys(await objectsOf(ceph, "kept")).length, 4);
  // Every rule at 0 is no rule: neither DEST nor the bucket loses anything.
  const off = await backupNow(source, dest, EVERY_RULE_OFF, env);
  strictEqual(off.code, 0, off.stderr);
  strictEqual((await archivesIn(dest)).length, 3);
  strictEqual(Object.keys(await objectsOf(ceph, "kept")).length, 6);
  const offPrune = await backupd(["prune", "--dest", dest, ...EVERY_RULE_OFF], env);
  strictEqual(offPrune.code, 0, offPrune.stderr);
  strictEqual(Object.keys(await objectsOf(ceph, "kept")).length, 6);
  const pruned = await backupd(["prune", "--dest", dest, "--keep-last", "1"], env);
  strictEqual(pruned.code, 0, pruned.stderr);
  const newest = (await archivesIn(dest)).at(-1) as string;
  deepStrictEqual(Object.keys(await objectsOf(ceph, "kept")).sort(), [
    newest,
    `${newest}.sha256`,
  ]);
});

Deno.test("the rgw killed mid-upload fails the run and keeps the archive; the next run uploads it", async () => {
  await using ceph = await startCeph(BUCKET);
  await using dir = await tempDir();
  const source = `${dir.path}/data`;
  await randomFile(`${source}/base/1/1259`, 300);
  const pings: string[] = [];
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      pings.push(`${new URL(req.url).pathname} ${await req.text()}`);
      return new Response("OK");
    },
  );
  const env = {
    ...ceph.env(`s3://${BUCKET}/db`),
    BACKUP_PING_URL: `http://127.0.0.1:${server.addr.port}/ping`,
  };
  const dest = `${dir.path}/backup`;
  const child = spawnBackupd(["now", "--source", source, "--dest", dest], env);
  const log = collectStderr(child);
  await waitFor(
    "the upload to start",
    () => log.text().includes("INFO upload started") || undefined,
  );
  await ceph.killRgw();
  const status = await child.status;
  const stderr = await log.done;
  await child.stdout.cancel();
  strictEqual(status.code, 2, stderr);
  match(stderr, /WARN uploading .* failed; trying again in_seconds=1 /);
  match(
    stderr,
    /ERROR backup failed error="Cannot .*the local archive \d{4}-\d{2}-\d{2}\/[\d-]+\.tar\.gz is kept; the next run uploads what the bucket lacks\)"\n$/,
  );
  const [first] = await archivesIn(dest);
  const check = await run("sha256sum", ["-c", `${dest}/${first}.sha256`], {
    cwd: `${dest}/${first?.slice(0, 10)}`,
  });
  strictEqual(check.code, 0, check.stderr);
  const health = await backupd(["health", "--dest", dest]);
  strictEqual(health.code, 1, health.stdout);
  strictEqual(pings.length, 2);
  strictEqual(pings[0], "/ping/start ");
  match(
    pings[1] ?? "",
    /^\/ping\/fail Cannot .* is kept; the next run uploads what the bucket lacks\)$/,
  );
  match(health.stdout, /^unhealthy: the last run failed/);

  await ceph.startRgw();
  // Whatever the dead rgw left of the first upload, the bucket does not hold it whole.
  const made = await backupNow(source, dest, [], env);
  strictEqual(made.code, 0, made.stderr);
  const archives = await archivesIn(dest);
  strictEqual(archives.length, 2);
  for (const rel of archives) {
    match(made.stderr, new RegExp(`INFO upload done archive=${rel} `));
    await sameInBucket(ceph, "db", dest, rel);
  }
  const healthy = await backupd(["health", "--dest", dest]);
  strictEqual(healthy.code, 0, healthy.stdout);
  deepStrictEqual(pings.slice(2).map((p) => p.split(" ")[0]), ["/ping/start", "/ping"]);
  // No multipart upload is left behind: the dead rgw's was aborted by the second run.
  const uploads = await ceph.client.send(
    new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: "db/" }),
  );
  deepStrictEqual(uploads.Uploads ?? [], []);
});

Deno.test("backupd run abandons an upload on SIGTERM with 143; the next run uploads it and leaves no parts", async () => {
  await using ceph = await startCeph(BUCKET);
  await using dir = await tempDir();
  const source = `${dir.path}/data`;
  await randomFile(`${source}/base/1/1259`, 300);
  const env = ceph.env(`s3://${BUCKET}/db`);
  const dest = `${dir.path}/backup`;
  const child = spawnBackupd([
    "run",
    "--source",
    source,
    "--dest",
    dest,
    "--schedule",
    "0 0 1 1 *",
    "--run-on-start",
  ], env);
  const log = collectStderr(child);
  await waitFor(
    "the upload to start",
    () => log.text().includes("INFO upload started") || undefined,
  );
  const state = JSON.parse(await Deno.readTextFile(`${dest}/.backupd/daemon.json`));
  const signalled = performance.now();
  signalProcess(state.pid, "SIGTERM");
  const status = await child.status;
  const latency = (performance.now() - signalled) / 1000;
  const stderr = await log.done;
  await child.stdout.cancel();
  strictEqual(status.code, 143, stderr);
  match(
    stderr,
    /INFO stopping: abandoning the run signal=SIGTERM\n.*ERROR backup failed reason=start error="Cannot finish the run: interrupted by SIGTERM"\n/,
  );
  const [archive] = await archivesIn(dest);
  strictEqual(Object.keys(await objectsOf(ceph, "db")).includes(archive ?? ""), false);

  const made = await backupNow(source, dest, [], env);
  strictEqual(made.code, 0, made.stderr);
  // Whether lib-storage's own abort reached the rgw before the exit or not, none is left now.
  for (const rel of await archivesIn(dest)) await sameInBucket(ceph, "db", dest, rel);
  const uploads = await ceph.client.send(
    new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: "db/" }),
  );
  deepStrictEqual(uploads.Uploads ?? [], []);
  // The whole upload, measured in the same run, took far longer than stopping did.
  const whole = Number(
    new RegExp(`INFO upload done archive=${archive} .* seconds=([\\d.]+)`).exec(made.stderr)?.[1],
  );
  console.log(
    `SIGTERM: exited ${latency.toFixed(2)} s after the signal; the upload takes ${whole} s`,
  );
  strictEqual(latency < whole / 2, true, `exit took ${latency} s against ${whole} s of upload`);
});

Deno.test("an upload keeps memory flat: a 4 x larger archive needs about the same peak RSS", async () => {
  await using ceph = await startCeph(BUCKET);
  await using dir = await tempDir();
  const peaks: number[] = [];
  for (const megabytes of [100, 400]) {
    const source = `${dir.path}/data-${megabytes}`;
    await randomFile(`${source}/base/1/1259`, megabytes);
    // GNU time reports the largest resident set of the process tree it waited for.
    const made = await run("/usr/bin/time", [
      "-f",
      "PEAK %M",
      Deno.execPath(),
      ...BACKUPD,
      "now",
      "--source",
      source,
      "--dest",
      `${dir.path}/backup-${megabytes}`,
    ], { env: baseEnv(ceph.env(`s3://${BUCKET}/rss-${megabytes}`)) });
    strictEqual(made.code, 0, made.stderr);
    match(made.stderr, / INFO upload done /);
    peaks.push(Number(/PEAK (\d+)/.exec(made.stderr)?.[1]) / 1024);
  }
  const [small = 0, big = 0] = peaks;
  console.log(`peak RSS: ${small.toFixed(0)} MB for 100 MB, ${big.toFixed(0)} MB for 400 MB`);
  strictEqual(big < small * 1.3, true, `${big} MB against ${small} MB`);
});
