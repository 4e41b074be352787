import got, { type Got, type RetryOptions } from 'got';
import { redactUrl, secretValues } from './redact.js';

export type UploadMode = 'stream' | 'batch' | 'tus';
export type UploadMethod = 'POST' | 'PUT' | 'PATCH';
export type Compression = 'gzip';

/** Options of `new BufferedHttpWritable(url, options)`. Everything is optional. */
export interface BufferedHttpWritableOptions {
  /**
   * How buffers reach the server: one chunked request (`'stream'`, default),
   * one request per buffer (`'batch'`), or the tus resumable protocol (`'tus'`).
   */
  mode?: UploadMode;
  /**
   * Bytes per buffer (default 1 MiB): the flush threshold, the size of each
   * preallocated buffer and the stream's own backpressure level.
   */
  highWaterMark?: number;
  /** HTTP method of the upload request(s): `POST` (default), `PUT` or `PATCH`. Not used by tus. */
  method?: UploadMethod;
  /** Extra request headers, sent with every request. */
  headers?: Record<string, string>;
  /**
   * Total bytes that will be written. stream: sent as `Content-Length` instead
   * of chunked encoding; tus: sent as `Upload-Length` at creation. Writing past
   * it, or ending short of it, fails the upload.
   */
  contentLength?: number;
  /** Aborts the upload: in-flight requests are ended and the stream errors with `AbortError`. */
  signal?: AbortSignal;
  /**
   * A got instance (`got.extend({...})`) for auth, agents, TLS, proxies,
   * HTTP/2, timeouts and hooks. The library still decides `throwHttpErrors`,
   * `followRedirect`, `retry`, `method` and the body: see the README.
   */
  got?: Got;

  /** batch: requests in flight at once (default 1). The pool holds `concurrency + 1` buffers. */
  concurrency?: number;
  /** batch: send a partial batch this many ms after its first byte arrived (default: off). */
  flushInterval?: number;
  /** batch and tus: got retry options; see the README for the defaults. */
  retry?: Partial<RetryOptions>;
  /** batch: compress each batch (`Content-Encoding: gzip`). */
  compress?: Compression;

  /** tus: continue an existing upload instead of creating one. */
  uploadUrl?: string | URL;
  /** tus: sent as `Upload-Metadata` at creation. */
  metadata?: Record<string, string>;
  /** tus: on abort, `DELETE` the upload (tus termination extension). Default false. */
  deleteOnAbort?: boolean;
}

/** The options after defaults and validation; what transports receive. */
export interface ResolvedOptions {
  url: URL;
  mode: UploadMode;
  highWaterMark: number;
  method: UploadMethod;
  headers: Record<string, string>;
  contentLength?: number;
  signal?: AbortSignal;
  got: Got;
  concurrency: number;
  flushInterval?: number;
  /** The caller's retry options with `limit` and `maxRetryAfter` always set: transports need no fallback. */
  retry: Partial<RetryOptions> & { limit: number; maxRetryAfter: number };
  compress?: Compression;
  uploadUrl?: URL;
  metadata?: Record<string, string>;
  deleteOnAbort: boolean;
  /** Credential values the caller gave (headers, got instance, URLs): never repeated in an error. */
  credentials: string[];
}

export const DEFAULT_HIGH_WATER_MARK = 1024 * 1024;
export const DEFAULT_CONCURRENCY = 1;
/** Retries after the first attempt for batch requests and tus resumes without progress. */
export const DEFAULT_RETRY_LIMIT = 5;
/** A `Retry-After` longer than this (ms) fails the upload instead of stalling it silently. */
export const DEFAULT_MAX_RETRY_AFTER = 60_000;

const MODES: readonly UploadMode[] = ['stream', 'batch', 'tus'];
const METHODS: readonly UploadMethod[] = ['POST', 'PUT', 'PATCH'];
const COMPRESSIONS: readonly Compression[] = ['gzip'];

/** Applies defaults and checks every option; throws `TypeError`/`RangeError` naming the option and the value. */
export function resolveOptions(url: string | URL, options: BufferedHttpWritableOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`options must be an object, received ${describe(options)}`);
  }
  if ((options as { objectMode?: unknown }).objectMode) {
    throw new TypeError('objectMode is not supported: BufferedHttpWritable takes bytes (Buffer, Uint8Array or string)');
  }
  const mode = options.mode ?? 'stream';
  oneOf('mode', mode, MODES);
  const method = options.method === undefined ? 'POST' : (String(options.method).toUpperCase() as UploadMethod);
  oneOf('method', method, METHODS);

  const retry = plainObject('retry', options.retry) ?? {};
  const resolved: ResolvedOptions = {
    url: httpUrl('url', url),
    mode,
    highWaterMark: positiveInteger('highWaterMark', options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK),
    method,
    headers: headerRecord(options.headers),
    got: options.got ?? got,
    concurrency: positiveInteger('concurrency', options.concurrency ?? DEFAULT_CONCURRENCY),
    // `?? default` rather than spreading over the defaults: `{ limit: undefined }` must not unset them.
    retry: { ...retry, limit: retry.limit ?? DEFAULT_RETRY_LIMIT, maxRetryAfter: retry.maxRetryAfter ?? DEFAULT_MAX_RETRY_AFTER },
    deleteOnAbort: options.deleteOnAbort ?? false,
    credentials: [],
  };
  if (options.contentLength !== undefined) {
    resolved.contentLength = nonNegativeInteger('contentLength', options.contentLength);
  }
  if (options.signal !== undefined) {
    if (!(options.signal instanceof AbortSignal)) {
      throw new TypeError(`signal must be an AbortSignal, received ${describe(options.signal)}`);
    }
    resolved.signal = options.signal;
  }
  if (typeof resolved.got !== 'function' || typeof resolved.got.stream !== 'function') {
    throw new TypeError(`got must be a got instance (got.extend(...)), received ${describe(options.got)}`);
  }
  if (options.flushInterval !== undefined) {
    resolved.flushInterval = positiveInteger('flushInterval', options.flushInterval);
  }
  if (options.compress !== undefined) {
    oneOf('compress', options.compress, COMPRESSIONS);
    resolved.compress = options.compress;
  }
  if (options.uploadUrl !== undefined) resolved.uploadUrl = httpUrl('uploadUrl', options.uploadUrl);
  if (options.metadata !== undefined) resolved.metadata = headerRecord(options.metadata, 'metadata');
  if (mode !== 'batch') {
    for (const name of ['concurrency', 'flushInterval', 'compress'] as const) {
      if (options[name] !== undefined) throw new TypeError(`${name} applies to mode 'batch' only, received it with mode '${mode}'`);
    }
  }
  if (mode !== 'tus') {
    for (const name of ['uploadUrl', 'metadata', 'deleteOnAbort'] as const) {
      if (options[name] !== undefined) throw new TypeError(`${name} applies to mode 'tus' only, received it with mode '${mode}'`);
    }
  }
  resolved.credentials = secretValues([resolved.got.defaults.options.headers as Record<string, unknown>, resolved.headers], [resolved.url, resolved.uploadUrl]);
  return resolved;
}

function httpUrl(name: string, value: unknown): URL {
  let url: URL;
  try {
    url = value instanceof URL ? new URL(value.href) : new URL(String(value));
  } catch {
    throw new TypeError(`${name} must be an absolute http(s) URL, received ${describe(value)}`);
  }
  if (typeof value !== 'string' && !(value instanceof URL)) {
    throw new TypeError(`${name} must be a string or URL, received ${describe(value)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`${name} must use http: or https:, received ${JSON.stringify(redactUrl(url))}`);
  }
  return url;
}

function positiveInteger(name: string, value: unknown): number {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`${name} must be a number, received ${describe(value)}`);
  }
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer, received ${value}`);
  }
  return value;
}

function nonNegativeInteger(name: string, value: unknown): number {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`${name} must be a number, received ${describe(value)}`);
  }
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer, received ${value}`);
  }
  return value;
}

function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): asserts value is T {
  if (!allowed.includes(value as T)) {
    throw new TypeError(`${name} must be one of ${allowed.map((v) => `'${v}'`).join(', ')}, received ${describe(value)}`);
  }
}

function plainObject<T extends object>(name: string, value: T | undefined): T | undefined {
  if (value !== undefined && (value === null || typeof value !== 'object')) {
    throw new TypeError(`${name} must be an object, received ${describe(value)}`);
  }
  return value;
}

function headerRecord(value: Record<string, string> | undefined, name = 'headers'): Record<string, string> {
  plainObject(name, value);
  const result: Record<string, string> = {};
  for (const [key, entry] of Object.entries(value ?? {})) {
    if (typeof entry !== 'string') {
      throw new TypeError(`${name}.${key} must be a string, received ${describe(entry)}`);
    }
    result[key] = entry;
  }
  return result;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value.length > 100 ? `${value.slice(0, 100)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return `${typeof value} ${String(value)}`;
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object') return `an object of type ${value.constructor?.name ?? 'Object'}`;
  return String(value);
}
