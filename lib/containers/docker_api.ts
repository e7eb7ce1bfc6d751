// A small client for the Docker Engine API on its unix socket (or tcp://), for pausing and
// stopping the containers labelled for backupd. No docker CLI is needed in the image.

import type { Endpoint } from "../settings/docker_settings.ts";
import { RunError } from "../base/errors.ts";

/** A container as the API lists it. */
export interface Container {
  /** Its id. */
  id: string;
  /** Its name, without the leading slash. */
  name: string;
}

/** What backupd does with the Engine API. */
export interface DockerApi {
  /** Running containers that carry every one of `labels` (`key=value`). */
  running(...labels: string[]): Promise<Container[]>;
  /** A container's labels, or none when the engine knows no such container. */
  labelsOf(idOrName: string): Promise<Record<string, string> | undefined>;
  /** Pauses a container (its processes frozen). */
  pause(id: string): Promise<void>;
  /** Resumes a paused container. */
  unpause(id: string): Promise<void>;
  /** Stops a container, giving it 60 s after SIGTERM. */
  stop(id: string): Promise<void>;
  /** Starts a stopped container. */
  start(id: string): Promise<void>;
}

/**
 * A client for `endpoint`. Every failure is a RunError saying what could not be done.
 *
 * @example
 * ```ts ignore
 * const docker = dockerClient(parseDockerHost(DEFAULT_DOCKER_HOST));
 * for (const c of await docker.running("backupd.pause=true")) await docker.pause(c.id);
 * ```
 */
export function dockerClient(endpoint: Endpoint): DockerApi {
  const call = engineCall(endpoint);
  const act = (verb: string, ok = [204, 304]) => async (id: string) => {
    const response = await call("POST", `/containers/${encodeURIComponent(id)}/${verb}`, ok);
    await response.body?.cancel();
  };
  return {
    async running(...labels) {
      const filters = encodeURIComponent(JSON.stringify({ label: labels, status: ["running"] }));
      const response = await call("GET", `/containers/json?filters=${filters}`, [200]);
      const list = await response.json() as { Id: string; Names?: string[] }[];
      return list.map((c) => ({ id: c.Id, name: (c.Names?.[0] ?? c.Id).replace(/^\//, "") }));
    },
    async labelsOf(idOrName) {
      const path = `/containers/${encodeURIComponent(idOrName)}/json`;
      const response = await call("GET", path, [200, 404]);
      if (response.status === 404) {
        await response.body?.cancel();
        return undefined;
      }
      const info = await response.json() as { Config?: { Labels?: Record<string, string> } };
      return info.Config?.Labels ?? {};
    },
    pause: act("pause", [204]),
    unpause: act("unpause", [204]),
    stop: act("stop?t=60"),
    start: act("start"),
  };
}

/** One request to the engine; a failure or an unexpected status is one RunError line. */
function engineCall(endpoint: Endpoint) {
  const client = endpoint.socket
    ? Deno.createHttpClient({ proxy: { transport: "unix", path: endpoint.socket } })
    : undefined;
  return async (method: string, path: string, ok: number[]): Promise<Response> => {
    let response: Response;
    try {
      response = await fetch(`${endpoint.base}${path}`, {
        method,
        ...(client ? { client } : {}),
        signal: AbortSignal.timeout(60_000),
      });
    } catch (err) {
      throw new RunError(
        `Cannot reach the Docker engine at "${endpoint.host}": ${unreachable(err)}`,
        { cause: err },
      );
    }
    if (!ok.includes(response.status)) {
      const body = (await response.text()).trim().slice(0, 200);
      throw new RunError(
        `Cannot ${method} ${path} on the Docker engine: HTTP ${response.status} ${body}`,
      );
    }
    return response;
  };
}

/** Why the engine could not be reached, in words where the OS error says. */
function unreachable(err: unknown): string {
  const detail = err instanceof Error
    ? `${err.message} ${err.cause instanceof Error ? err.cause.message : ""}`
    : String(err);
  if (/os error 2\b/.test(detail)) return "no such socket";
  if (/os error 13\b/.test(detail)) return "permission denied";
  if (/os error 111\b/.test(detail)) return "connection refused";
  return detail.trim();
}
