// Quiescing the database for the archive phase: containers labelled backupd.pause=true
// are paused, backupd.stop=true stopped, and always resumed. What was done is recorded in
// DEST/.backupd/quiesced.json first, so a crash is undone at the next start.

import { removeIfPresent } from "../store/atomic_file.ts";
import { type Container, type DockerApi, dockerClient } from "./docker.ts";
import { parseDockerHost } from "../settings/docker_host.ts";
import type { Settings } from "../settings/settings.ts";
import { statIfPresent } from "../base/files.ts";
import { describeError, RunError } from "../base/errors.ts";
import type { Logger } from "../base/log.ts";
import { readStateFile, writeStateFile } from "../store/state_file.ts";

/** The labels backupd acts on. */
export const PAUSE_LABEL = "backupd.pause=true";
export const STOP_LABEL = "backupd.stop=true";

interface QuiescedRecord {
  paused: Container[];
  stopped: Container[];
}

function recordPath(stateDir: string): string {
  return `${stateDir}/quiesced.json`;
}

async function resume(api: DockerApi, record: QuiescedRecord, log: Logger): Promise<string[]> {
  const failures: string[] = [];
  const attempt = async (what: string, container: Container, action: () => Promise<void>) => {
    try {
      await action();
      log.info(`${what} container`, { container: container.name });
    } catch (err) {
      failures.push(`${container.name}: ${describeError(err)}`);
      log.error(`cannot ${what.replace(/d$/, "")} container`, {
        container: container.name,
        error: describeError(err),
      });
    }
  };
  for (const c of record.paused) await attempt("unpaused", c, () => api.unpause(c.id));
  for (const c of record.stopped) await attempt("started", c, () => api.start(c.id));
  return failures;
}

/**
 * Undoes what a crashed run left paused or stopped (from quiesced.json), if anything.
 * Containers that are already running again are fine; other failures are logged.
 *
 * @example
 * ```ts ignore
 * await resumeLeftovers("/backup/.backupd", docker, log);
 * ```
 */
async function resumeLeftovers(
  stateDir: string,
  api: DockerApi,
  log: Logger,
): Promise<void> {
  const record = await readStateFile<QuiescedRecord>(recordPath(stateDir));
  if (record === undefined) return;
  log.warn("resuming containers that an interrupted run left quiesced", {
    paused: record.paused.map((c) => c.name).join(","),
    stopped: record.stopped.map((c) => c.name).join(","),
  });
  const running = new Set([
    ...(await api.running(PAUSE_LABEL)).map((c) => c.id),
    ...(await api.running(STOP_LABEL)).map((c) => c.id),
  ]);
  // A paused container is listed as running too: unpause every recorded one, start only the stopped.
  await resume(api, {
    paused: record.paused,
    stopped: record.stopped.filter((c) => !running.has(c.id)),
  }, log);
  await removeIfPresent(recordPath(stateDir));
}

/**
 * Pauses and stops the labelled containers; returns the function that resumes them
 * (it throws a RunError when any could not be resumed).
 *
 * @example
 * ```ts ignore
 * const resumeAll = await quiesce("/backup/.backupd", docker, log);
 * try { ... } finally { await resumeAll(); }
 * ```
 */
export async function quiesce(
  stateDir: string,
  api: DockerApi,
  log: Logger,
): Promise<() => Promise<void>> {
  const record: QuiescedRecord = {
    paused: await api.running(PAUSE_LABEL),
    stopped: await api.running(STOP_LABEL),
  };
  if (record.paused.length + record.stopped.length === 0) return () => Promise.resolve();
  const path = recordPath(stateDir);
  await writeStateFile(path, record);
  const done: QuiescedRecord = { paused: [], stopped: [] };
  const resumeAll = async () => {
    const failures = await resume(api, done, log);
    if (failures.length > 0) {
      throw new RunError(
        `Cannot resume every container (left recorded for the next start): ${failures.join("; ")}`,
      );
    }
    await removeIfPresent(path);
  };
  try {
    for (const c of record.paused) {
      await api.pause(c.id);
      done.paused.push(c);
      log.info("paused container", { container: c.name });
    }
    for (const c of record.stopped) {
      await api.stop(c.id);
      done.stopped.push(c);
      log.info("stopped container", { container: c.name });
    }
  } catch (err) {
    await resumeAll().catch((resumeErr) =>
      log.error("cannot resume", { error: describeError(resumeErr) })
    );
    throw err;
  }
  return resumeAll;
}

/**
 * The Docker engine to quiesce labelled containers through, after undoing what a crashed
 * run left paused or stopped; none when Docker is off or, without DOCKER_HOST, absent.
 *
 * @example
 * ```ts ignore
 * const docker = await containerEngine(settings, "/backup/.backupd", log);
 * ```
 */
export async function containerEngine(
  settings: Settings,
  stateDir: string,
  log: Logger,
): Promise<DockerApi | undefined> {
  if (settings.docker === undefined) return undefined;
  const endpoint = parseDockerHost(settings.docker.host);
  // Without DOCKER_HOST, no socket at the default path means no Docker here: nothing to do.
  if (!settings.docker.explicit && endpoint.socket) {
    if (await statIfPresent(endpoint.socket) === undefined) return undefined;
  }
  const api = dockerClient(endpoint);
  await resumeLeftovers(stateDir, api, log);
  return api;
}
