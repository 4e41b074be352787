import type { S3ChecksumAlgorithm, S3Credentials } from '../../types.js';
import type { CommonOptions, ModeOptionRules } from '../../options/common.js';
import { describe, headerName, headerRecord, oneOf, plainObject, refuseUnknownFields } from '../../options/validators.js';
import { PARTS_OPTIONS, resolvePartsOptions, type PartsOptions } from '../parts/options.js';
import { checkInstalled } from '../../optional-package.js';
import { s3Target, type S3Target } from './target.js';

/** S3 refuses a part under 5 MiB unless it is the last (`EntityTooSmall`, at Complete: after every byte was sent). */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
/** S3's largest part. */
export const MAX_PART_SIZE = 5 * 1024 * 1024 * 1024;
/** What the AWS SDKs send by default since 2025, so every S3-compatible store that follows them takes it. */
export const DEFAULT_CHECKSUM: S3ChecksumAlgorithm = 'crc32';
/** The region SigV4 signs for when neither the option nor an AWS host name says one. */
export const DEFAULT_REGION = 'us-east-1';

/** `mode: 's3'` after defaults and validation. */
export interface S3Options extends PartsOptions {
  mode: 's3';
  s3: ResolvedS3Settings;
}

export interface ResolvedS3Settings {
  target: S3Target;
  region: string;
  /** Asked before each request (a function: cached until shortly before it expires). */
  credentials: S3Credentials | (() => Promise<S3Credentials>);
  checksum: S3ChecksumAlgorithm | false;
  contentType?: string;
  metadata: Record<string, string>;
}

const S3_FIELDS = ['credentials', 'region', 'checksum', 'contentType', 'metadata'];
const CREDENTIAL_FIELDS = ['accessKeyId', 'secretAccessKey', 'sessionToken', 'expiration'];
const CHECKSUMS: ReadonlyArray<S3ChecksumAlgorithm> = ['crc32', 'crc32c', 'sha256'];

/** s3: a multipart upload on the parts transport (lib/modes/parts/), its settings under `s3`. */
export const s3Rules: ModeOptionRules<S3Options> = {
  options: [...PARTS_OPTIONS, 's3'],
  resolve(options, common: CommonOptions) {
    checkInstalled('@smithy/signature-v4');
    const parts = resolvePartsOptions(options, common);
    if (parts.highWaterMark < MIN_PART_SIZE || parts.highWaterMark > MAX_PART_SIZE) {
      throw new RangeError(
        `highWaterMark is the part size in mode 's3': S3 takes parts of 5 MiB (${MIN_PART_SIZE}) to 5 GiB (${MAX_PART_SIZE}) bytes, received ${parts.highWaterMark}`,
      );
    }
    return { ...parts, mode: 's3', s3: resolveS3Settings(options.s3, common.url) };
  },
};

function resolveS3Settings(value: unknown, url: URL): ResolvedS3Settings {
  if (value === undefined) throw new TypeError("s3 is required in mode 's3': { credentials, region?, checksum?, contentType?, metadata? }");
  const settings = plainObject('s3', value as object)! as Record<string, unknown>;
  refuseUnknownFields('s3', settings, S3_FIELDS);
  const target = s3Target(url);
  const resolved: ResolvedS3Settings = {
    target,
    region: settings.region === undefined ? (target.hostRegion ?? DEFAULT_REGION) : region(settings.region),
    credentials: credentials(settings.credentials),
    checksum: settings.checksum === undefined ? DEFAULT_CHECKSUM : checksum(settings.checksum),
    metadata: metadata(settings.metadata),
  };
  if (settings.contentType !== undefined) {
    if (typeof settings.contentType !== 'string' || settings.contentType === '') {
      throw new TypeError(`s3.contentType must be a media type, received ${describe(settings.contentType)}`);
    }
    resolved.contentType = settings.contentType;
  }
  return resolved;
}

/** User metadata: each name becomes the header `x-amz-meta-<name>`, so it must be a header name. */
function metadata(value: unknown): Record<string, string> {
  const record = headerRecord(value as Record<string, string> | undefined, 's3.metadata');
  for (const name of Object.keys(record)) headerName(`s3.metadata name ${JSON.stringify(name)}`, name);
  return record;
}

function region(value: unknown): string {
  if (typeof value !== 'string' || !/^[a-z0-9-]+$/.test(value)) throw new TypeError(`s3.region must be a region name (eu-west-1), received ${describe(value)}`);
  return value;
}

function checksum(value: unknown): S3ChecksumAlgorithm | false {
  if (value === false) return false;
  oneOf('s3.checksum', value, CHECKSUMS);
  return value;
}

/** An object is checked now; a function's answer on each call (`checkCredentials`). Never echoes a value. */
function credentials(value: unknown): S3Credentials | (() => Promise<S3Credentials>) {
  if (typeof value === 'function') return value as () => Promise<S3Credentials>;
  return checkCredentials(value);
}

/** The fields of a credentials object: strings, and nothing else (a typo would otherwise sign as nobody). */
export function checkCredentials(value: unknown): S3Credentials {
  if (value === null || typeof value !== 'object') {
    throw new TypeError(
      `s3.credentials must be { accessKeyId, secretAccessKey, sessionToken? } or a function returning a promise of it, received ${describe(value)}`,
    );
  }
  refuseUnknownFields('s3.credentials', value, CREDENTIAL_FIELDS);
  const { accessKeyId, secretAccessKey, sessionToken, expiration } = value as Record<string, unknown>;
  for (const [name, field] of [
    ['accessKeyId', accessKeyId],
    ['secretAccessKey', secretAccessKey],
  ] as const) {
    if (typeof field !== 'string' || field === '') throw new TypeError(`s3.credentials.${name} must be a non-empty string`);
  }
  if (sessionToken !== undefined && typeof sessionToken !== 'string') throw new TypeError('s3.credentials.sessionToken must be a string');
  if (expiration !== undefined && !(expiration instanceof Date)) throw new TypeError('s3.credentials.expiration must be a Date');
  return value as S3Credentials;
}
