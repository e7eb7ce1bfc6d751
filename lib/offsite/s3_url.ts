// Where off-site copies go and how to reach them, as plain values: light enough for
// settings to use without loading the AWS SDK (which costs every start ~60 ms).

import { ConfigError } from "../base/errors.ts";
import type { Secret } from "../base/secret.ts";

/** Where off-site copies go: `s3://BUCKET/PREFIX`. */
export interface S3Target {
  /** The bucket's name. */
  bucket: string;
  /** Key prefix without slashes at either end; "" for the bucket's top. */
  prefix: string;
}

/** How to reach the object store. */
export interface S3Connection {
  /** The endpoint URL; the AWS one for the region when absent. */
  endpoint?: string;
  /** The bucket's region. */
  region: string;
  /** `https://host/bucket/key` instead of `https://bucket.host/key`. */
  pathStyle: boolean;
}

/** S3 credentials from the environment; the SDK's own chain looks when absent. */
export interface S3Credentials {
  /** The access key id. */
  accessKeyId: Secret;
  /** The secret key. */
  secretAccessKey: Secret;
  /** A temporary session's token. */
  sessionToken?: Secret;
}

/**
 * Reads `s3://BUCKET/PREFIX` (the prefix may be empty).
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(parseS3Url("s3://backups/db/", "--s3-url"), { bucket: "backups", prefix: "db" });
 * ```
 */
export function parseS3Url(url: string, from: string): S3Target {
  const match = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(url);
  if (!match) throw new ConfigError(from, url, "expected s3://BUCKET/PREFIX");
  const bucket = match[1] as string;
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new ConfigError(
      from,
      url,
      "the bucket name must be 3 to 63 lower-case letters, digits, dots or hyphens",
    );
  }
  const prefix = (match[2] ?? "").replace(/^\/+|\/+$/g, "");
  if (prefix.split("/").some((part) => part === "." || part === "..")) {
    throw new ConfigError(from, url, 'expected a prefix without "." or ".." parts');
  }
  return { bucket, prefix };
}
