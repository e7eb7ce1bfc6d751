// DOCKER_HOST as a value: where the Docker Engine API is, for the container labels.
// Pure, so settings can check it without touching the engine.

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
export const DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock";

/**
 * Reads DOCKER_HOST; throws RangeError for a form it does not know.
 *
 * @example
 * ```ts ignore
 * parseDockerHost("unix:///run/docker.sock"); // { host: "unix:///run/docker.sock", base: "http://docker", socket: "/run/docker.sock" }
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
