// The off-site settings: the bucket, its endpoint and region, credentials, age keys.

import { ConfigError, describeError } from "../base/errors.ts";
import { parseS3Url, type S3Credentials } from "../offsite/s3_url.ts";
import { checkRecipient } from "../codec/encryption.ts";
import { bool, httpUrlSetting, listSetting, pick, secret } from "./values.ts";
import { DEFAULTS, type Env, type Flags } from "./flags.ts";

export function s3Credentials(env: Env): S3Credentials | undefined {
  const accessKeyId = secret(env, "AWS_ACCESS_KEY_ID");
  const secretAccessKey = secret(env, "AWS_SECRET_ACCESS_KEY");
  const sessionToken = secret(env, "AWS_SESSION_TOKEN");
  if (!accessKeyId && !secretAccessKey) return undefined;
  if (!accessKeyId || !secretAccessKey) {
    const missing = accessKeyId ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID";
    throw new ConfigError(missing, "", "the access key id and the secret key go together");
  }
  return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
}

export function offsiteSettings(flags: Flags, env: Env) {
  const urlPicked = pick(flags.s3Url, "--s3-url", env, "BACKUP_S3_URL");
  const endpointPicked = httpUrlSetting(
    flags.s3Endpoint,
    "--s3-endpoint",
    env,
    "BACKUP_S3_ENDPOINT",
  );
  const region = pick(flags.s3Region, "--s3-region", env, "BACKUP_S3_REGION")?.value ??
    DEFAULTS.s3Region;
  const { values: recipients, from: recipientsFrom } = listSetting(
    flags.ageRecipient,
    "--age-recipient",
    env,
    "BACKUP_AGE_RECIPIENTS",
  );
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
  const identity = pick(flags.ageIdentity, "--age-identity", env, "BACKUP_AGE_IDENTITY_FILE");
  const credentials = s3Credentials(env);
  return {
    ...(urlPicked ? { s3: parseS3Url(urlPicked.value, urlPicked.from) } : {}),
    s3Connection: {
      ...(endpointPicked ? { endpoint: endpointPicked.value } : {}),
      region,
      pathStyle: bool(flags.s3PathStyle, env, "BACKUP_S3_PATH_STYLE", false),
    },
    ...(credentials ? { s3Credentials: credentials } : {}),
    ageRecipients: recipients,
    ...(identity ? { ageIdentityFile: identity.value } : {}),
  };
}
