// Docker for the container tests: the engine is Debian's (/usr/bin/docker), and every
// image is built here from Debian's packages, since none can be pulled.

import { strictEqual } from "node:assert/strict";
import { baseEnv, type Finished, ROOT, run } from "../helpers.ts";

export const DOCKER = "/usr/bin/docker";
export const COMPOSE = "/usr/bin/docker-compose";
export const BASE = "backupd-e2e/base:bookworm";
export const POSTGRES = "backupd-e2e/postgres:15";
export const STANDINS = `${ROOT}/tests/e2e/compose`;

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
