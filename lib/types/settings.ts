import type { Duplex } from 'node:stream';
import type { Got, RetryOptions } from 'got';
import type { ResponseSummary } from './reports.js';

/**
 * The values the options take: the modes, methods and algorithms by name,
 * the got instance, and the settings objects of a mode (spool, retry,
 * idempotency key, s3, azureBlob) and of `fetchTusOffset`.
 */

export type UploadMode = 'stream' | 'batch' | 'tus' | 's3' | 'azure-blob';

export type UploadMethod = 'POST' | 'PUT' | 'PATCH';

export type Compression = 'gzip';

/** An RFC 9530 digest algorithm (the two the RFC lists as active). */
export type DigestAlgorithm = 'sha-256' | 'sha-512';

/**
 * A got instance of major version 14, 15 or 16 (got itself, or
 * `got.extend({...})`). Each version declares its own `Got` type, which
 * TypeScript holds incompatible with the others, so the `got` option takes
 * the part of the API the library calls, which all three share.
 */
export type GotInstance = Got | GotOfAnyVersion;

/** What the library calls on a got instance, written so got 14, 15 and 16 all fit. */
export interface GotOfAnyVersion {
  (url: string | URL, options?: never): PromiseLike<unknown>;
  stream: (url: string | URL, options?: never) => Duplex;
  extend: (...instancesOrOptions: never[]) => GotOfAnyVersion;
  defaults: { options: object };
}

/** batch: where and how records are kept until acknowledged. */
export interface SpoolSettings {
  /** The spool's directory (created if missing); one writer at a time. */
  dir: string;
  /** Disk the spool may use before writes push back (default 1 GiB). Nothing is ever dropped. */
  maxBytes?: number | undefined;
  /** `fdatasync` every append: a record whose callback fired survives a power loss too, not only a crash (default false). */
  fsync?: boolean | undefined;
  /**
   * Unsafe: use a directory owned by another user, or writable by group or
   * others, instead of refusing it with `ERR_BHW_SPOOL_UNSAFE` (default
   * false). Whoever can write there can read the records or redirect them.
   */
  allowUnsafeDirectory?: boolean | undefined;

  /**
   * The producer's stream, named by the caller (a file's device, inode, size
   * and mtime, say). Kept in the journal with where in the spool that input
   * starts, so the `'spool'` event can say how much of it the spool already
   * took (`inputBytes`): read the input from there on. Opening a spool that
   * still holds records of another input fails with `ERR_BHW_SPOOL_INPUT`;
   * `'finish'` forgets the input. Default: not checked, not recorded.
   */
  input?: string | undefined;
  /**
   * Answers that set the batch aside at once (moved to `<dir>/rejected/`,
   * not retried): a list of statuses, or a test of the answer (its body's
   * start, redacted). Default: 400, 413, 415 and 422. Besides these, a batch
   * whose refusal ended 3 runs (500, or a 4xx other than 401, 403, 404 and
   * 407 and those retried) is set aside by the third.
   */
  setAsideOn?: readonly number[] | ((response: ResponseSummary) => boolean) | undefined;
}

/** batch: where the idempotency key goes; at least one of the two. */
export interface IdempotencyKeyPlacement {
  /** The header that carries the key (default `'Idempotency-Key'`), or `false` for none. */
  header?: string | false | undefined;
  /** A query parameter that carries the key too (ClickHouse: `'insert_deduplication_token'`). */
  query?: string | undefined;
}

/** batch and tus: got's retry options, read by the library's retry engine, and a budget in time. */
export type RetryOption = Partial<RetryOptions> & {
  /**
   * ms during which failures in a row without progress are retried (default
   * 120 000; `Infinity`: until acknowledged). Named after p-retry's
   * `maxRetryTime` and curl's `--retry-max-time`.
   */
  maxRetryTime?: number | undefined;
};

/** azure-blob: the blob's properties and the per-block checksum. */
export interface AzureBlobSettings {
  /** The blob's `Content-Type` (`x-ms-blob-content-type`; Azure's default is `application/octet-stream`). */
  contentType?: string | undefined;
  /** The blob's metadata (`x-ms-meta-<name>`): names are C# identifiers, values ASCII. */
  metadata?: Record<string, string> | undefined;
  /**
   * Each block's checksum, verified by the service before it stores the block:
   * `'md5'` (`Content-MD5`, the default), `'crc64'` (`x-ms-content-crc64`) or `false`.
   */
  checksum?: AzureBlobChecksum | false | undefined;
}

/** azure-blob: the per-block checksum's algorithm. */
export type AzureBlobChecksum = 'md5' | 'crc64';

/** s3: AWS credentials, as the AWS SDK's credential providers resolve them. */
export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** Temporary credentials (STS): sent as `X-Amz-Security-Token`. */
  sessionToken?: string | undefined;
  /** When temporary credentials run out: a provider function is asked again shortly before. */
  expiration?: Date | undefined;
}

/** s3: the checksum S3 verifies for each part (`x-amz-checksum-*`). */
export type S3ChecksumAlgorithm = 'crc32' | 'crc32c' | 'sha256';

/** s3: the `s3` option. */
export interface S3Settings {
  /**
   * The credentials, or a function resolving them (an AWS SDK credential
   * provider such as `fromNodeProviderChain()`), asked before each request
   * and again when they expire. Never shown in an error or a log.
   */
  credentials: S3Credentials | (() => Promise<S3Credentials>);
  /** The signing region (default: read from an `s3.<region>.amazonaws.com` host, else `us-east-1`). */
  region?: string | undefined;
  /**
   * The checksum S3 verifies for every part and small object (default
   * `'crc32'`, as the AWS SDKs send), or `false` for none: the payload is
   * then signed by its SHA-256, so S3 still checks the bytes.
   */
  checksum?: S3ChecksumAlgorithm | false | undefined;
  /** The object's `Content-Type`. */
  contentType?: string | undefined;
  /** User metadata, sent as `x-amz-meta-<name>` headers. */
  metadata?: Record<string, string> | undefined;
}

/** Where an upload stands on the server, as a `HEAD` reports it. */
export interface TusOffset {
  /** `Upload-Offset`: bytes the server has stored. Read your source from here on. */
  offset: number;
  /** `Upload-Length`, when the server knows the total (absent while the length is deferred). */
  length?: number;
}

/** Options of `fetchTusOffset`. */
export interface FetchTusOffsetOptions {
  /** The got instance for auth, agents, TLS and timeouts (default: got). */
  got?: GotInstance | undefined;
  /** Extra request headers (auth, say). */
  headers?: Record<string, string> | undefined;
  /**
   * Retries of the `HEAD`, by the library's retry engine as in tus mode
   * (got's names, the same defaults; `{ limit: 0 }`: one attempt). got's
   * own retries are not used.
   */
  retry?: RetryOption | undefined;
  /** Stops the request, or the wait before a retry, with an `AbortError`. */
  signal?: AbortSignal | undefined;
}
