// The Docker engine for the container labels (README: Settings): DOCKER_HOST read as an
// endpoint, BACKUP_QUIESCE and the compose project; pure, the engine is not touched here.

import { ConfigError } from "../base/errors.ts";
import { SETTINGS } from "./catalog.ts";
import type { Resolver } from "./resolver.ts";

/** Where the engine is, from DOCKER_HOST (`unix://PATH` or `tcp://HOST:PORT`). */
export interface Endpoint {
  /** The DOCKER_HOST value it came from, for messages. */
  host: string;
  /** The base URL requests go to. */
  base: string;
  /** The socket path, for unix:// */
  socket?: string;
}

/** The default DOCKER_HOST. */
export const DEFAULT_DOCKER_HOST: string = SETTINGS.dockerHost.default;

/**
 * Reads DOCKER_HOST; throws RangeError for a form it does not know.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(parseDockerHost("unix:///run/docker.sock"), {
 *   host: "unix:///run/docker.sock",
 *   base: "http://docker",
 *   socket: "/run/docker.sock",
 * });
 * assertEquals(parseDockerHost("tcp://127.0.0.1:2375").base, "http://127.0.0.1:2375");
 * ```
 */
export function parseDockerHost(host: string): Endpoint {
  if (host.startsWith("unix://")) {
    return { host, base: "http://docker", socket: host.slice("unix://".length) };
  }
  if (host.startsWith("tcp://")) return { host, base: `http://${host.slice("tcp://".length)}` };
  throw new RangeError(
    `Cannot use DOCKER_HOST "${host}": expected unix:///path or tcp://host:port`,
  );
}

/** The Docker engine for the container labels, and the compose project they are read in. */
export interface DockerSettings {
  /** DOCKER_HOST, or the default socket. */
  host: string;
  /** Whether DOCKER_HOST was given (then an absent engine is an error). */
  explicit: boolean;
  /** BACKUP_QUIESCE_GROUP: the compose project to quiesce; else this container's own. */
  group?: string;
}

/**
 * The Docker engine for the container labels; none when BACKUP_QUIESCE is off.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { Resolver } from "./resolver.ts";
 * assertEquals(dockerSettings(new Resolver({}, { BACKUP_QUIESCE: "off" })), {});
 * assertEquals(dockerSettings(new Resolver({}, { BACKUP_QUIESCE_GROUP: "shop" })).docker?.group, "shop");
 * ```
 */
export function dockerSettings(r: Resolver): { docker?: DockerSettings } {
  if (!r.bool("quiesce", true)) return {};
  const host = r.pick("dockerHost")?.value;
  if (host === "none") {
    // The docker CLI in the same shell would break on it: backupd has its own switch.
    throw new ConfigError(
      "DOCKER_HOST",
      host,
      "backupd no longer reads none here; set BACKUP_QUIESCE=off to turn the container labels off",
    );
  }
  const group = r.pick("quiesceGroup")?.value.trim();
  const docker: DockerSettings = {
    host: host ?? DEFAULT_DOCKER_HOST,
    explicit: host !== undefined,
    ...(group ? { group } : {}),
  };
  try {
    parseDockerHost(docker.host);
  } catch (err) {
    throw new ConfigError(
      "DOCKER_HOST",
      docker.host,
      "expected unix:///path or tcp://host:port",
      {
        cause: err,
      },
    );
  }
  return { docker };
}
