// Quiescing the database for the archive phase: containers of this stack's compose project
// (or of BACKUP_QUIESCE_GROUP) labelled backupd.pause=true are paused, backupd.stop=true
// stopped, and always resumed; other projects' containers are never touched. What was done
// is recorded in DEST/.backupd/quiesced.json first, so a crash is undone at the next start.

import { removeIfPresent } from "../store/atomic_file.ts";
import { type Container, type DockerApi, dockerClient } from "./docker_api.ts";
import { parseDockerHost } from "../settings/docker_settings.ts";
import type { Settings } from "../settings/settings.ts";
import { statIfPresent } from "../base/files.ts";
import { describeError, RunError } from "../base/errors.ts";
import type { Logger } from "../base/log.ts";
import { readStateFile, writeStateFile } from "../store/state_file.ts";

/** The labels backupd acts on. */
export const PAUSE_LABEL = "backupd.pause=true";
/** The label of containers stopped (and started again) around the archive phase. */
export const STOP_LABEL = "backupd.stop=true";
/** The label docker compose puts on every container of a project. */
export const PROJECT_LABEL = "com.docker.compose.project";

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
  engine: ContainerEngine,
  log: Logger,
): Promise<(() => Promise<void>) | undefined> {
  const { api, project } = engine;
  const scope = `${PROJECT_LABEL}=${project}`;
  const record: QuiescedRecord = {
    paused: await api.running(PAUSE_LABEL, scope),
    stopped: await api.running(STOP_LABEL, scope),
  };
  if (record.paused.length + record.stopped.length === 0) {
    log.info("no container to quiesce", { project, labels: `${PAUSE_LABEL},${STOP_LABEL}` });
    return undefined;
  }
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

/** The engine and the compose project whose labelled containers a run quiesces. */
export interface ContainerEngine {
  /** The engine's API. */
  api: DockerApi;
  /** The compose project whose containers are quiesced. */
  project: string;
}

/**
 * The compose project this process runs in: its container (found by its host name, which
 * Docker sets to the container's id) carries the project's label. None outside compose.
 */
async function ownProject(api: DockerApi): Promise<string | undefined> {
  let hostname: string;
  try {
    hostname = Deno.hostname();
  } catch {
    return undefined;
  }
  return (await api.labelsOf(hostname))?.[PROJECT_LABEL];
}

/**
 * The Docker engine to quiesce labelled containers through, after undoing what a crashed
 * run left paused or stopped, with the project they are read in (BACKUP_QUIESCE_GROUP, or
 * this container's own compose project); none when BACKUP_QUIESCE is off, without
 * DOCKER_HOST when no engine is there, or outside compose without BACKUP_QUIESCE_GROUP.
 *
 * @example
 * ```ts ignore
 * const engine = await containerEngine(settings, "/backup/.backupd", log);
 * ```
 */
export async function containerEngine(
  settings: Settings,
  stateDir: string,
  log: Logger,
): Promise<ContainerEngine | undefined> {
  if (settings.docker === undefined) return undefined;
  const endpoint = parseDockerHost(settings.docker.host);
  // Without DOCKER_HOST, no socket at the default path means no Docker here: nothing to do.
  if (!settings.docker.explicit && endpoint.socket) {
    if (await statIfPresent(endpoint.socket) === undefined) return undefined;
  }
  const api = dockerClient(endpoint);
  await resumeLeftovers(stateDir, api, log);
  const project = settings.docker.group ?? await ownProject(api);
  if (project === undefined) {
    // Outside compose: labelled containers belong to some stack, not necessarily this one.
    const labelled = [...await api.running(PAUSE_LABEL), ...await api.running(STOP_LABEL)];
    if (labelled.length > 0) {
      log.warn(
        "not quiescing containers: this process is not in a compose project; set BACKUP_QUIESCE_GROUP to the project whose labelled containers to quiesce",
        { labelled: labelled.map((c) => c.name).join(",") },
      );
    }
    return undefined;
  }
  return { api, project };
}

/**
 * Whether a run would find a labelled container of its stack to quiesce now (the run decides
 * again); true when the engine cannot be asked, so that only a certain "no" refuses.
 *
 * @example
 * ```ts ignore
 * if (!await wouldQuiesce(settings)) console.log("nothing holds SOURCE still");
 * ```
 */
export async function wouldQuiesce(settings: Settings): Promise<boolean> {
  if (settings.docker === undefined) return false;
  const endpoint = parseDockerHost(settings.docker.host);
  if (!settings.docker.explicit && endpoint.socket) {
    if (await statIfPresent(endpoint.socket) === undefined) return false;
  }
  try {
    const api = dockerClient(endpoint);
    const project = settings.docker.group ?? await ownProject(api);
    if (project === undefined) return false;
    const scope = `${PROJECT_LABEL}=${project}`;
    return [...await api.running(PAUSE_LABEL, scope), ...await api.running(STOP_LABEL, scope)]
      .length > 0;
  } catch (err) {
    // An engine that does not answer now: the run asks again and says what it finds.
    return err instanceof Error;
  }
}

/**
 * A run's quiescing: the stack's labelled containers paused or stopped (the resumer, when
 * any was), and, when nothing holds the data still (no `--postgres`, no pre-hook, nothing
 * quiesced), a warning saying so at every run.
 *
 * @example
 * ```ts ignore
 * const resume = await quiesceForRun(settings, engine, "/backup/.backupd", log);
 * ```
 */
export async function quiesceForRun(
  settings: Settings,
  engine: ContainerEngine | undefined,
  stateDir: string,
  log: Logger,
): Promise<(() => Promise<void>) | undefined> {
  const quiesced = engine ? await quiesce(stateDir, engine, log) : undefined;
  if (!quiesced && !settings.postgres && !settings.preHook) {
    log.warn(
      "copying SOURCE unquiesced: no --postgres, no pre-hook and no container paused or stopped (README: Consistency)",
    );
  }
  return quiesced;
}
