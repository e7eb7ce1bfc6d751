// A one-node Ceph cluster for the off-site tests, from Debian's packages: one mon, one osd
// on memstore and one rgw, all on 127.0.0.1 with Ceph's own auth off, as vstart.sh does.

import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { freePort, run, signalProcess, waitFor } from "../helpers.ts";

/** A running cluster; disposing it stops every daemon and removes its folder. */
export interface Ceph extends AsyncDisposable {
  /** The rgw's S3 endpoint. */
  endpoint: string;
  accessKey: string;
  secretKey: string;
  /** An S3 client for the test's own checks. */
  client: S3Client;
  /** Kills the rgw at once (a crash, mid-request). */
  killRgw(): Promise<void>;
  /** Starts the rgw again and waits until it answers. */
  startRgw(): Promise<void>;
  /** backupd's settings for `s3://BUCKET/PREFIX` on this cluster. */
  env(url: string): Record<string, string>;
}

async function must(cmd: string, args: string[], what: string): Promise<string> {
  const result = await run(cmd, args);
  if (result.code !== 0) {
    throw new Error(`Cannot start Ceph: ${what} failed:\n${result.stdout}\n${result.stderr}`);
  }
  return result.stdout;
}

async function pidOf(dir: string, name: string): Promise<number | undefined> {
  try {
    return Number((await Deno.readTextFile(`${dir}/run/${name}.pid`)).trim());
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
}

function alive(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/** Stops a daemon: SIGTERM, then SIGKILL when it has not gone after 10 s. */
async function stopDaemon(dir: string, name: string, signal: Deno.Signal = "SIGTERM") {
  const pid = await pidOf(dir, name);
  if (pid === undefined || !alive(pid)) return;
  signalProcess(pid, signal);
  try {
    await waitFor(`${name} to exit`, () => alive(pid) ? undefined : true, 10);
  } catch {
    // It ignored SIGTERM: kill it, so that no daemon outlives the test.
    if (alive(pid)) signalProcess(pid, "SIGKILL");
  }
  await Deno.remove(`${dir}/run/${name}.pid`).catch(() => undefined);
}

/**
 * Starts a cluster in a new folder and creates `bucket`; a few seconds.
 *
 * @example
 * ```ts
 * await using ceph = await startCeph("backups");
 * ```
 */
export async function startCeph(bucket: string): Promise<Ceph> {
  const dir = await Deno.makeTempDir({ prefix: "backupd-ceph-" });
  const conf = `${dir}/ceph.conf`;
  const fsid = crypto.randomUUID();
  const monPort = freePort();
  const rgwPort = freePort();
  for (const sub of ["run", "log", "mon.a", "osd.0", "rgw"]) await Deno.mkdir(`${dir}/${sub}`);
  await Deno.writeTextFile(
    conf,
    `[global]
fsid = ${fsid}
mon host = v2:127.0.0.1:${monPort}
public addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
ms_mon_client_mode = crc
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
osd crush chooseleaf type = 0
paxos propose interval = 0.05
run dir = ${dir}/run
admin socket = ${dir}/run/$name.asok
log file = ${dir}/log/$name.log
pid file = ${dir}/run/$name.pid
[mon.a]
mon data = ${dir}/mon.a
[osd]
osd data = ${dir}/osd.$id
osd objectstore = memstore
memstore device bytes = 4294967296
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:${rgwPort}
rgw data = ${dir}/rgw
`,
  );
  const endpoint = `http://127.0.0.1:${rgwPort}`;
  const accessKey = "backupd-test";
  const secretKey = crypto.randomUUID();
  const client = new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: accessKey, secretAccessKey: secretKey },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  const startRgw = async () => {
    await must("radosgw", ["-c", conf, "-n", "client.rgw"], "radosgw");
    await waitFor("the rgw to answer", async () => {
      try {
        const response = await fetch(endpoint);
        await response.body?.cancel();
        return response.ok ? true : undefined;
      } catch {
        // Not listening yet.
        return undefined;
      }
    }, 60);
  };
  const stopAll = async () => {
    client.destroy();
    for (const name of ["client.rgw", "osd.0", "mon.a"]) await stopDaemon(dir, name);
    await Deno.remove(dir, { recursive: true });
  };
  try {
    await must(
      "monmaptool",
      ["--create", "--fsid", fsid, "--addv", "a", `[v2:127.0.0.1:${monPort}]`, `${dir}/monmap`],
      "monmaptool",
    );
    await must("ceph-mon", ["-c", conf, "-i", "a", "--mkfs", "--monmap", `${dir}/monmap`], "mkfs");
    await must("ceph-mon", ["-c", conf, "-i", "a"], "ceph-mon");
    const osdUuid = crypto.randomUUID();
    await must("ceph", ["-c", conf, "osd", "new", osdUuid], "ceph osd new");
    await must("ceph-osd", ["-c", conf, "-i", "0", "--mkfs", "--osd-uuid", osdUuid], "osd mkfs");
    await must("ceph-osd", ["-c", conf, "-i", "0"], "ceph-osd");
    await startRgw();
    await must("radosgw-admin", [
      "-c",
      conf,
      "user",
      "create",
      "--uid=backupd",
      "--display-name=backupd",
      `--access-key=${accessKey}`,
      `--secret-key=${secretKey}`,
    ], "radosgw-admin user create");
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (err) {
    await stopAll();
    throw err;
  }
  return {
    endpoint,
    accessKey,
    secretKey,
    client,
    killRgw: () => stopDaemon(dir, "client.rgw", "SIGKILL"),
    startRgw,
    env: (url) => ({
      BACKUP_S3_URL: url,
      BACKUP_S3_ENDPOINT: endpoint,
      BACKUP_S3_PATH_STYLE: "true",
      AWS_ACCESS_KEY_ID: accessKey,
      AWS_SECRET_ACCESS_KEY: secretKey,
    }),
    [Symbol.asyncDispose]: stopAll,
  };
}
