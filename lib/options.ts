import got, { type Got, type RetryOptions } from 'got';
import { DEFAULT_MAX_CONCURRENCY } from './modes/batch/adaptive-concurrency.js';
import type { UploadDiagnostics } from './diagnostics.js';
import { gotSecretValues, learningSentSecrets, redactUrl, secretValues } from './http/redact.js';
import { RETRY_ERROR_CODES, RETRY_METHODS, RETRY_STATUS_CODES, type RetrySettings } from './http/retry.js';
import type { BufferedHttpWritableOptions, Compression, SpoolSettings, TusOffset, UploadMethod, UploadMode } from './types.js';

/** What every mode's resolved options hold. */
interface CommonOptions {
  url: URL;
  highWaterMark: number;
  headers: Record<string, string>;
  contentLength?: number;
  signal?: AbortSignal;
  got: Got;
  /** Credential values the caller gave (headers, got instance, URLs) and those got sent: never repeated in an error. */
  credentials: string[];
  /** The caller's `secretHeaders`, lower case (the built-in credential headers are always secret). */
  secretHeaders: string[];
  /** batch: the session counts batches. */
  countsBatches: boolean;
  /** What the diagnostics channels say of this upload (the writable is set once constructed). */
  diagnostics: UploadDiagnostics;
}

/** `Expect: 100-continue` as the request will carry it: stream and tus. */
export interface ContinueOptions {
  /** The request carries `Expect: 100-continue`: its body waits for `100 Continue`, a final answer, or the timeout. */
  expectsContinue: boolean;
  /** ms the body waits for `100 Continue` before it goes anyway. */
  expectContinueTimeout: number;
}

/** `mode: 'stream'` after defaults and validation: what the stream transport receives. */
export interface StreamOptions extends CommonOptions, ContinueOptions {
  mode: 'stream';
  method: UploadMethod;
}

/** `mode: 'batch'` after defaults and validation. */
export interface BatchOptions extends CommonOptions {
  mode: 'batch';
  method: UploadMethod;
  /** A fixed number of requests in flight, or `'auto'`. */
  concurrency: number | 'auto';
  /** The highest limit: `concurrency` itself when fixed; sizes the pool (`maxConcurrency + 1` buffers). */
  maxConcurrency: number;
  flushInterval?: number;
  retry: RetrySettings;
  compress?: Compression;
  spool?: Required<Pick<SpoolSettings, 'dir' | 'maxBytes' | 'fsync' | 'allowUnsafeDirectory'>>;
}

/** `mode: 'tus'` after defaults and validation. */
export interface TusOptions extends CommonOptions, ContinueOptions {
  mode: 'tus';
  retry: RetrySettings;
  uploadUrl?: URL;
  /** The server's offset (and length) of `uploadUrl`, already asked: the transport skips its own `HEAD`. */
  resumeFrom?: TusOffset;
  metadata?: Record<string, string>;
  deleteOnAbort: boolean;
  allowInsecureLocation: boolean;
}

/** The options after defaults and validation, typed per mode: a transport sees only its own fields. */
export type ResolvedOptions = StreamOptions | BatchOptions | TusOptions;

export const DEFAULT_HIGH_WATER_MARK = 1024 * 1024;
/** Disk a spool may hold before writes push back. */
export const DEFAULT_SPOOL_MAX_BYTES = 1024 * 1024 * 1024;
export const DEFAULT_CONCURRENCY = 1;
export { DEFAULT_MAX_CONCURRENCY };
/** Retries after the first attempt for batch requests and tus resumes without progress. */
export const DEFAULT_RETRY_LIMIT = 5;
/** A `Retry-After` longer than this (ms) fails the upload instead of stalling it silently. */
export const DEFAULT_MAX_RETRY_AFTER = 60_000;
/** How long (ms) a body waits for `100 Continue` before it is sent anyway: curl's default. */
export const DEFAULT_EXPECT_CONTINUE_TIMEOUT = 1000;

const MODES: readonly UploadMode[] = ['stream', 'batch', 'tus'];
const METHODS: readonly UploadMethod[] = ['POST', 'PUT', 'PATCH'];
const COMPRESSIONS: readonly Compression[] = ['gzip'];

/** The one table of which option applies to which mode. */
const OPTION_MODES: Record<keyof BufferedHttpWritableOptions, readonly UploadMode[]> = {
  mode: MODES,
  highWaterMark: MODES,
  headers: MODES,
  signal: MODES,
  got: MODES,
  secretHeaders: MODES,
  method: ['stream', 'batch'],
  contentLength: ['stream', 'tus'],
  expectContinueTimeout: ['stream', 'tus'],
  retry: ['batch', 'tus'],
  concurrency: ['batch'],
  maxConcurrency: ['batch'],
  flushInterval: ['batch'],
  compress: ['batch'],
  spool: ['batch'],
  uploadUrl: ['tus'],
  resumeFrom: ['tus'],
  metadata: ['tus'],
  deleteOnAbort: ['tus'],
  allowInsecureLocation: ['tus'],
};

/** The fields of `retry` the engine reads (got's names); others, such as got's `noise`, are refused. */
const RETRY_FIELDS = ['limit', 'methods', 'statusCodes', 'errorCodes', 'maxRetryAfter', 'backoffLimit', 'calculateDelay'];

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
  checkKeys(options, mode);
  const instance = options.got ?? got;
  if (typeof instance !== 'function' || typeof instance.stream !== 'function') {
    throw new TypeError(`got must be a got instance (got.extend(...)), received ${describe(options.got)}`);
  }
  const common: CommonOptions = {
    url: httpUrl('url', url),
    highWaterMark: positiveInteger('highWaterMark', options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK),
    headers: headerRecord(options.headers),
    got: instance,
    credentials: [],
    secretHeaders: headerNames('secretHeaders', options.secretHeaders ?? []),
    countsBatches: mode === 'batch',
    diagnostics: { mode, url: '', concurrency: 1 },
  };
  if (options.contentLength !== undefined) common.contentLength = nonNegativeInteger('contentLength', options.contentLength);
  if (options.signal !== undefined) {
    if (!(options.signal instanceof AbortSignal)) {
      throw new TypeError(`signal must be an AbortSignal, received ${describe(options.signal)}`);
    }
    common.signal = options.signal;
  }
  const resolved = resolveMode(mode, options, common);
  resolved.diagnostics = { mode, url: redactUrl(resolved.url), concurrency: resolved.mode === 'batch' ? resolved.concurrency : 1 };
  resolved.credentials = [
    ...gotSecretValues(instance, resolved.secretHeaders),
    ...secretValues([resolved.headers], [resolved.url, resolved.mode === 'tus' ? resolved.uploadUrl : undefined], resolved.secretHeaders),
  ];
  resolved.got = learningSentSecrets(instance, resolved.credentials, resolved.secretHeaders);
  return resolved;
}

function resolveMode(mode: UploadMode, options: BufferedHttpWritableOptions, common: CommonOptions): ResolvedOptions {
  switch (mode) {
    case 'stream':
      return { ...common, ...resolveContinue(options, common), mode, method: resolveMethod(options.method) };
    case 'batch': {
      const method = resolveMethod(options.method);
      const batch: BatchOptions = {
        ...common,
        mode,
        method,
        ...resolveConcurrency(options.concurrency, options.maxConcurrency),
        retry: resolveRetry(options.retry, common.got, method),
      };
      if (options.flushInterval !== undefined) batch.flushInterval = positiveInteger('flushInterval', options.flushInterval);
      if (options.compress !== undefined) {
        oneOf('compress', options.compress, COMPRESSIONS);
        batch.compress = options.compress;
      }
      if (options.spool !== undefined) batch.spool = resolveSpool(options.spool);
      return batch;
    }
    case 'tus': {
      const tus: TusOptions = {
        ...common,
        ...resolveContinue(options, common),
        mode,
        retry: resolveRetry(options.retry, common.got),
        deleteOnAbort: booleanOption('deleteOnAbort', options.deleteOnAbort ?? false),
        allowInsecureLocation: booleanOption('allowInsecureLocation', options.allowInsecureLocation ?? false),
      };
      if (options.uploadUrl !== undefined) tus.uploadUrl = httpUrl('uploadUrl', options.uploadUrl);
      if (options.resumeFrom !== undefined) {
        if (tus.uploadUrl === undefined) throw new TypeError('resumeFrom applies only with uploadUrl (the upload whose offset it is)');
        tus.resumeFrom = resolveResumeFrom(options.resumeFrom);
      }
      if (options.metadata !== undefined) tus.metadata = headerRecord(options.metadata, 'metadata');
      return tus;
    }
  }
}

/** Whether the request will carry `Expect: 100-continue` (the caller's headers over the instance's, any case), and the wait. */
function resolveContinue(options: BufferedHttpWritableOptions, common: CommonOptions): ContinueOptions {
  const timeout = nonNegativeInteger('expectContinueTimeout', options.expectContinueTimeout ?? DEFAULT_EXPECT_CONTINUE_TIMEOUT);
  const expectation = (headers: Record<string, unknown> | undefined): unknown =>
    Object.entries(headers ?? {}).find(([name]) => name.toLowerCase() === 'expect')?.[1];
  const own = expectation(common.headers);
  const value = own !== undefined ? own : expectation(common.got.defaults.options.headers as Record<string, unknown>);
  return { expectsContinue: typeof value === 'string' && value.trim().toLowerCase() === '100-continue', expectContinueTimeout: timeout };
}

/** Refuses a key no mode knows (with the nearest known name) and a key of another mode. Undefined values are ignored. */
function checkKeys(options: BufferedHttpWritableOptions, mode: UploadMode): void {
  const known = Object.keys(OPTION_MODES);
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    const modes = OPTION_MODES[key as keyof BufferedHttpWritableOptions] as readonly UploadMode[] | undefined;
    if (modes === undefined) {
      const near = nearest(key, known);
      throw new TypeError(`Unknown option '${key}'${near ? ` (did you mean '${near}'?)` : ''}`);
    }
    if (!modes.includes(mode)) {
      throw new TypeError(`'${key}' does not apply to mode '${mode}' (it applies to ${modes.map((m) => `'${m}'`).join(', ')})`);
    }
  }
}

/** `concurrency` (a number or `'auto'`) and `maxConcurrency`, which only `'auto'` takes. */
function resolveConcurrency(concurrency: unknown, maxConcurrency: unknown): { concurrency: number | 'auto'; maxConcurrency: number } {
  if (concurrency === 'auto') {
    return { concurrency, maxConcurrency: positiveInteger('maxConcurrency', maxConcurrency ?? DEFAULT_MAX_CONCURRENCY) };
  }
  if (typeof concurrency === 'string') throw new TypeError(`concurrency must be a positive integer or 'auto', received ${describe(concurrency)}`);
  const fixed = positiveInteger('concurrency', concurrency ?? DEFAULT_CONCURRENCY);
  if (maxConcurrency !== undefined) {
    throw new TypeError(`maxConcurrency applies only with concurrency: 'auto' (concurrency is ${fixed}), received ${describe(maxConcurrency)}`);
  }
  return { concurrency: fixed, maxConcurrency: fixed };
}

function resolveMethod(value: unknown): UploadMethod {
  const method = value === undefined ? 'POST' : (String(value).toUpperCase() as UploadMethod);
  oneOf('method', method, METHODS);
  return method;
}

/** The retry engine's settings: the caller's fields over the defaults (`{ limit: undefined }` keeps the default). */
/** The `retry` option as the retry engine reads it (got's names; unknown fields refused). */
export function resolveRetry(value: Partial<RetryOptions> | undefined, instance: Got, method?: UploadMethod): RetrySettings {
  const retry = plainObject('retry', value) ?? {};
  for (const [key, field] of Object.entries(retry)) {
    if (field !== undefined && !RETRY_FIELDS.includes(key)) {
      const near = nearest(key, RETRY_FIELDS);
      throw new TypeError(`Unknown option 'retry.${key}'${near ? ` (did you mean 'retry.${near}'?)` : ''}`);
    }
  }
  const settings: RetrySettings = {
    limit: nonNegativeInteger('retry.limit', retry.limit ?? DEFAULT_RETRY_LIMIT),
    statusCodes: retry.statusCodes ?? RETRY_STATUS_CODES,
    // The instance's list if it sets one: the caller may have tuned it there.
    errorCodes: retry.errorCodes ?? instance.defaults.options.retry.errorCodes ?? RETRY_ERROR_CODES,
    maxRetryAfter: nonNegativeNumber('retry.maxRetryAfter', retry.maxRetryAfter ?? DEFAULT_MAX_RETRY_AFTER),
    backoffLimit: nonNegativeNumber('retry.backoffLimit', retry.backoffLimit ?? Number.POSITIVE_INFINITY),
  };
  if (retry.calculateDelay !== undefined) settings.calculateDelay = retry.calculateDelay;
  // A method the caller left out of retry.methods is never retried.
  const methods = (retry.methods as readonly string[] | undefined) ?? RETRY_METHODS;
  if (method !== undefined && !methods.includes(method)) settings.limit = 0;
  return settings;
}

const SPOOL_FIELDS = ['dir', 'maxBytes', 'fsync', 'allowUnsafeDirectory'];

function resolveSpool(value: SpoolSettings): Required<Pick<SpoolSettings, 'dir' | 'maxBytes' | 'fsync' | 'allowUnsafeDirectory'>> {
  const spool = plainObject('spool', value)!;
  for (const [key, field] of Object.entries(spool)) {
    if (field !== undefined && !SPOOL_FIELDS.includes(key)) {
      const near = nearest(key, SPOOL_FIELDS);
      throw new TypeError(`Unknown option 'spool.${key}'${near ? ` (did you mean 'spool.${near}'?)` : ''}`);
    }
  }
  if (typeof spool.dir !== 'string' || spool.dir === '') throw new TypeError(`spool.dir must be a directory path, received ${describe(spool.dir)}`);
  return {
    dir: spool.dir,
    maxBytes: positiveInteger('spool.maxBytes', spool.maxBytes ?? DEFAULT_SPOOL_MAX_BYTES),
    fsync: booleanOption('spool.fsync', spool.fsync ?? false),
    allowUnsafeDirectory: booleanOption('spool.allowUnsafeDirectory', spool.allowUnsafeDirectory ?? false),
  };
}

const RESUME_FROM_FIELDS = ['offset', 'length'];

/** A `fetchTusOffset` answer: `offset`, and `length` when the server knows it (never below the offset). */
function resolveResumeFrom(value: TusOffset): TusOffset {
  const state = plainObject('resumeFrom', value)!;
  for (const [key, field] of Object.entries(state)) {
    if (field !== undefined && !RESUME_FROM_FIELDS.includes(key)) {
      const near = nearest(key, RESUME_FROM_FIELDS);
      throw new TypeError(`Unknown option 'resumeFrom.${key}'${near ? ` (did you mean 'resumeFrom.${near}'?)` : ''}`);
    }
  }
  const resumeFrom: TusOffset = { offset: nonNegativeInteger('resumeFrom.offset', state.offset) };
  if (state.length !== undefined) {
    resumeFrom.length = nonNegativeInteger('resumeFrom.length', state.length);
    if (resumeFrom.length < resumeFrom.offset) {
      throw new RangeError(`resumeFrom.length must not be below resumeFrom.offset ${resumeFrom.offset}, received ${resumeFrom.length}`);
    }
  }
  return resumeFrom;
}

/** The known name within two edits of `key`, for "did you mean". */
function nearest(key: string, names: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const name of names) {
    const distance = editDistance(key.toLowerCase(), name.toLowerCase());
    if (distance < bestDistance) {
      best = name;
      bestDistance = distance;
    }
  }
  return best;
}

/** Levenshtein distance. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

function booleanOption(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new TypeError(`${name} must be a boolean, received ${describe(value)}`);
  return value;
}

function nonNegativeNumber(name: string, value: unknown): number {
  if (typeof value !== 'number' || Number.isNaN(value)) throw new TypeError(`${name} must be a number, received ${describe(value)}`);
  if (value < 0) throw new RangeError(`${name} must not be negative, received ${value}`);
  return value;
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

/** A list of header names (RFC 9110 tokens), lower case. */
function headerNames(name: string, value: unknown): string[] {
  if (!Array.isArray(value)) throw new TypeError(`${name} must be an array of header names, received ${describe(value)}`);
  return value.map((entry: unknown, index) => {
    if (typeof entry !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(entry)) {
      throw new TypeError(`${name}[${index}] must be a header name, received ${describe(entry)}`);
    }
    return entry.toLowerCase();
  });
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value.length > 100 ? `${value.slice(0, 100)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return `${typeof value} ${String(value)}`;
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object') return `an object of type ${value.constructor?.name ?? 'Object'}`;
  return String(value);
}
