// Docker for the container tests: the engine is Debian's (/usr/bin/docker), and every
// image is built here from Debian's packages, since none can be pulled.

import { strictEqual } from "node:assert/strict";
import { dirname } from "node:path";
import { baseEnv, type Finished, ROOT, run, waitFor } from "../helpers.ts";

export const DOCKER = "/usr/bin/docker";
export const COMPOSE = "/usr/bin/docker-compose";
export const BASE = "backupd-e2e/base:bookworm";
export const POSTGRES = "backupd-e2e/postgres:15";
export const STANDINS = `${ROOT}/tests/e2e/compose`;
/** The database's client, as the compose file's user and database; stops at the first error. */
export const PSQL = ["psql", "-U", "employees", "-d", "employees", "-v", "ON_ERROR_STOP=1"];

/** Runs a command that must succeed, failing the test with its output otherwise. */
export async function must(
  cmd: string,
  args: string[],
  what: string,
  env?: Record<string, string>,
): Promise<Finished> {
  const result = await run(cmd, args, env ? { env: baseEnv(env) } : {});
  strictEqual(result.code, 0, `${what} failed:\n${result.stdout}\n${result.stderr}`);
  return result;
}

/** Fails the test unless a Docker engine answers. */
export async function requireDocker(): Promise<void> {
  const info = await run(DOCKER, ["info"]);
  strictEqual(
    info.code,
    0,
    `this test needs a Docker engine (.ci/run starts one):\n${info.stderr}`,
  );
}

/** A Debian base image from Debian's packages (mmdebstrap), with PostgreSQL 15 in it. */
export async function ensureBaseImage(): Promise<void> {
  if ((await run(DOCKER, ["image", "inspect", BASE])).code === 0) return;
  const script =
    `set -o pipefail; mmdebstrap --quiet --variant=apt --include=postgresql-15,ca-certificates bookworm - ` +
    `/etc/apt/sources.list.d/debian.sources | ${DOCKER} import - ${BASE}`;
  await must("bash", ["-c", script], "building the base image");
}

/** The PostgreSQL stand-in for the official image (same data folder, uid 999). */
export async function ensurePostgresImage(): Promise<void> {
  await ensureBaseImage();
  await must(DOCKER, [
    "build",
    "-q",
    "-t",
    POSTGRES,
    "-f",
    `${STANDINS}/postgres.Dockerfile`,
    STANDINS,
  ], "building the PostgreSQL stand-in");
}

/** One field of `docker inspect`. */
export async function inspect(container: string, format: string): Promise<string> {
  return (await run(DOCKER, ["inspect", "-f", format, container])).stdout.trim();
}

/** The Deno binary of the npm package @deno/linux-x64-glibc, at this Deno's version. */
async function denoBinary(into: string): Promise<string> {
  const beside = `${dirname(Deno.execPath())}/node_modules/@deno/linux-x64-glibc`;
  const version = await Deno.readTextFile(`${beside}/package.json`).then(
    (t) => JSON.parse(t).version,
    () => "",
  );
  if (version === Deno.version.deno) return `${beside}/deno`;
  const pkg = `@deno/linux-x64-glibc@${Deno.version.deno}`;
  await must("npm", ["pack", "--silent", pkg, "--pack-destination", into], "npm pack");
  await must(
    "tar",
    ["-xzf", `${into}/deno-linux-x64-glibc-${Deno.version.deno}.tgz`, "-C", into],
    "unpacking deno",
  );
  return `${into}/package/deno`;
}

/** The build context of the backup stand-in: main.ts and lib/, Deno, and a filled cache. */
async function backupContext(dir: string): Promise<void> {
  await Deno.mkdir(`${dir}/app`, { recursive: true });
  const sources = ["main.ts", "lib", "deno.json", "deno.lock"].map((f) => `${ROOT}/${f}`);
  await must("cp", ["-r", ...sources, `${dir}/app/`], "copying the app");
  await must("cp", [
    await denoBinary(dir),
    `${STANDINS}/backup.Dockerfile`,
    `${STANDINS}/drill.Dockerfile`,
    `${STANDINS}/backupd.sh`,
    `${dir}/`,
  ], "copy");
  await must(
    Deno.execPath(),
    ["install", "--frozen", "--entrypoint", `${dir}/app/main.ts`],
    "filling the Deno cache",
    {
      DENO_DIR: `${dir}/deno-dir`,
    },
  );
}

/** A compose project of the project's docker-compose.yaml with the stand-ins swapped in. */
export interface ComposeProject {
  /** The project folder: ./dbdata and ./backup are here. */
  dir: string;
  /** Containers are named `${name}_<service>_1`. */
  name: string;
  /** Runs docker-compose with the project's files. */
  run(...args: string[]): Promise<Finished>;
}

/**
 * Prepares images and a project in `work`; `extra` names more override files under
 * tests/e2e/compose/. `down` it when done.
 */
export async function composeProject(work: string, extra: string[] = []): Promise<ComposeProject> {
  await requireDocker();
  await ensurePostgresImage();
  const context = `${work}/context`;
  await backupContext(context);
  const dir = `${work}/project`;
  await Deno.mkdir(dir, { recursive: true });
  const name = `backupde2e${Date.now()}`;
  const files = [
    "docker-compose.yaml",
    "tests/e2e/compose/compose.override.yaml",
    ...extra.map((f) => `tests/e2e/compose/${f}`),
  ]
    .flatMap((f) => ["-f", `${ROOT}/${f}`]);
  return {
    dir,
    name,
    run: (...args) =>
      run(COMPOSE, ["-p", name, "--project-directory", dir, ...files, ...args], {
        env: baseEnv({ BACKUPD_E2E_CONTEXT: context, TZ: "UTC" }),
      }),
  };
}

/**
 * Starts the PostgreSQL stand-in on a restored data folder, runs `sql` as soon as it
 * answers, and removes the container; returns the query's output and the server's log.
 */
export async function queryRestored(
  name: string,
  folder: string,
  sql: string,
): Promise<{ rows: string; log: string }> {
  const container = `${name}-restored`;
  await must(DOCKER, [
    "run",
    "-d",
    "--name",
    container,
    "-v",
    `${folder}:/var/lib/postgresql/data`,
    POSTGRES,
  ], "start");
  try {
    const rows = await waitFor("the restored database", async () => {
      const q = await run(DOCKER, ["exec", container, ...PSQL, "-tA", "-c", sql]);
      return q.code === 0 ? q.stdout.trim() : undefined;
    }, 120);
    const logs = await run(DOCKER, ["logs", container]);
    return { rows, log: logs.stdout + logs.stderr };
  } finally {
    await run(DOCKER, ["rm", "-f", container]);
  }
}
