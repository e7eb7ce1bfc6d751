// How requests to the object store are sized and described: multipart part sizes, and one
// line for what went wrong (the service's error code and HTTP status, or the network's).

import { S3ServiceException } from "@aws-sdk/client-s3";
import { RemoteError } from "../base/errors.ts";

/** The bytes of one part of a multipart upload, and how many go at once. */
export const PART_BYTES = 8 * 1024 * 1024;

/** Parts of one upload sent at once (and so held in memory). */
export const PARTS_IN_FLIGHT = 4;

/** S3 takes at most 10,000 parts; stay clear of it. */
const MOST_PARTS = 9_000;

/**
 * The part size for a file: 8 MiB, or more for files over ~70 GiB so that the upload stays
 * under S3's 10,000 parts.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(partSizeFor(1e9), 8388608);
 * assertEquals(partSizeFor(1e12), 111111112);
 * ```
 */
export function partSizeFor(bytes: number): number {
  return Math.max(PART_BYTES, Math.ceil(bytes / MOST_PARTS));
}

/**
 * Says what went wrong with a request in one line: the service's error code and HTTP status
 * when it answered, the network error when it did not.
 */
export function remoteError(action: string, url: string, err: unknown): RemoteError {
  let detail: string;
  let permanent = false;
  if (err instanceof S3ServiceException) {
    const status = err.$metadata.httpStatusCode;
    const message = err.message && err.message !== "UnknownError" ? `: ${err.message}` : "";
    detail = `${err.name}${status ? ` (HTTP ${status})` : ""}${message}`;
    // A refusal (bad key, no bucket) stays one; timeouts, throttling and 5xx may pass.
    permanent = status !== undefined && status >= 400 && status < 500 && status !== 408 &&
      status !== 429;
  } else if (err instanceof Error && err.name === "CredentialsProviderError") {
    detail = "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or their _FILE " +
      "variants), or give the SDK a profile or role";
    permanent = true;
  } else if (err instanceof Error) {
    const code = "code" in err && typeof err.code === "string" ? `${err.code}: ` : "";
    detail = `${code}${err.message.split("\n")[0]}`;
  } else detail = String(err);
  return new RemoteError(`Cannot ${action} "${url}": ${detail}`, { cause: err, permanent });
}
