// The off-site settings: the bucket, its endpoint and region, credentials, age keys.

import { ConfigError, describeError } from "../base/errors.ts";
import {
  parseS3Url,
  type S3Connection,
  type S3Credentials,
  type S3Target,
} from "../offsite/s3_url.ts";
import { checkRecipient } from "../codec/encryption.ts";
import { SETTINGS } from "./catalog.ts";
import type { Resolver } from "./resolver.ts";

/** Where off-site copies go, and the age keys. */
export interface OffsiteSettings {
  /** Where to upload each archive, if anywhere. */
  s3?: S3Target;
  /** How to reach S3. */
  s3Connection: S3Connection;
  /** Credentials from the environment, if given there. */
  s3Credentials?: S3Credentials;
  /** age public keys: archives are encrypted to all of them when any is given. */
  ageRecipients: string[];
  /** The age identity file for verify and restore. */
  ageIdentityFile?: string;
}

/** The bucket's keys from the environment (or files), if given; the two go together. */
function s3Credentials(r: Resolver): S3Credentials | undefined {
  const accessKeyId = r.secret("s3AccessKey");
  const secretAccessKey = r.secret("s3SecretKey");
  const sessionToken = r.secret("s3SessionToken");
  if (!accessKeyId && !secretAccessKey) return undefined;
  if (!accessKeyId || !secretAccessKey) {
    const missing = accessKeyId ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID";
    throw new ConfigError(missing, "", "the access key id and the secret key go together");
  }
  return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
}

/**
 * The bucket, how to reach it and its keys; the age keys to encrypt to and to decrypt with.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { Resolver } from "./resolver.ts";
 * assertEquals(offsiteSettings(new Resolver({ s3Url: "s3://backups/db" }, {})), {
 *   s3: { bucket: "backups", prefix: "db" },
 *   s3Connection: { region: "us-east-1", pathStyle: false },
 *   ageRecipients: [],
 * });
 * ```
 */
export function offsiteSettings(r: Resolver): OffsiteSettings {
  const urlPicked = r.pick("s3Url");
  const endpointPicked = r.httpUrl("s3Endpoint");
  const region = r.pick("s3Region")?.value ?? SETTINGS.s3Region.default;
  const { values: recipients, from: recipientsFrom } = r.list("ageRecipient");
  for (const recipient of recipients) {
    try {
      checkRecipient(recipient);
    } catch (err) {
      throw new ConfigError(
        recipientsFrom,
        recipient,
        describeError(err),
        { cause: err },
      );
    }
  }
  const identity = r.pick("ageIdentity");
  const credentials = s3Credentials(r);
  return {
    ...(urlPicked ? { s3: parseS3Url(urlPicked.value, urlPicked.from) } : {}),
    s3Connection: {
      ...(endpointPicked ? { endpoint: endpointPicked.value } : {}),
      region,
      pathStyle: r.bool("s3PathStyle", false),
    },
    ...(credentials ? { s3Credentials: credentials } : {}),
    ageRecipients: recipients,
    ...(identity ? { ageIdentityFile: identity.value } : {}),
  };
}
