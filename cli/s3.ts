import type { S3Settings } from '../lib/index.js';
import type { UploadArgs } from './args.js';
import { UsageError } from './usage-error.js';

/*
 * `bhw --mode s3`: the credentials and region from the environment, as the
 * AWS CLI reads them.
 */

/** The `s3` option from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and AWS_REGION (or AWS_DEFAULT_REGION). */
export function s3SettingsFrom(env: NodeJS.ProcessEnv): S3Settings {
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_SESSION_TOKEN: sessionToken } = env;
  if (!accessKeyId || !secretAccessKey) throw new UsageError('--mode s3 needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment');
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION;
  return { credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) }, ...(region ? { region } : {}) };
}

/** What the output must never show in s3 mode: the secret key and the session token. */
export function s3Secrets(args: UploadArgs, env: NodeJS.ProcessEnv): string[] {
  if (args.mode !== 's3') return [];
  return [env.AWS_SECRET_ACCESS_KEY, env.AWS_SESSION_TOKEN].filter((value): value is string => Boolean(value));
}
