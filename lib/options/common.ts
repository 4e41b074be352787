import got, { type Got } from 'got';
import type { AnyModeOptions, DigestAlgorithm, GotInstance, UploadMethod } from '../types.js';
import { describe, headerNames, headerRecord, httpUrl, nonNegativeInteger, oneOf, positiveInteger } from './validators.js';

export const DEFAULT_HIGH_WATER_MARK = 1024 * 1024;

/** What every mode's resolved options hold: plain settings, nothing learnt while the upload runs. */
export interface CommonOptions {
  url: URL;
  highWaterMark: number;
  headers: Record<string, string>;
  contentLength?: number;
  signal?: AbortSignal;
  /**
   * The caller's got instance (or got itself), for its defaults. Requests go
   * through the upload context's `got`, which is this one extended to learn
   * the credentials each request sends (lib/upload-context.ts).
   */
  got: Got;
  /** The caller's `secretHeaders`, lower case (the built-in credential headers are always secret). */
  secretHeaders: string[];
}

/**
 * What a mode's options module (lib/modes/<mode>/options.ts) gives the mode
 * table: its rows (the options it takes) and its defaults and validation.
 */
export interface ModeOptionRules<Options extends CommonOptions> {
  /** The options this mode takes besides the common ones: its rows of the mode table. */
  readonly options: ReadonlyArray<keyof AnyModeOptions>;
  /** The mode's options after defaults and validation, on top of the common ones (already resolved). */
  resolve(options: AnyModeOptions, common: CommonOptions): Options;
}

/** The options every mode takes: the common rows of the mode table. */
export const COMMON_OPTIONS: ReadonlyArray<keyof AnyModeOptions> = ['mode', 'highWaterMark', 'headers', 'signal', 'got', 'secretHeaders'];

/** The common options after defaults and validation (`contentLength` only reaches here in a mode that takes it). */
export function resolveCommon(url: string | URL, options: AnyModeOptions): CommonOptions {
  const instance = resolveGot(options.got);
  const common: CommonOptions = {
    url: httpUrl('url', url),
    highWaterMark: positiveInteger('highWaterMark', options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK),
    headers: headerRecord(options.headers),
    got: instance,
    secretHeaders: headerNames('secretHeaders', options.secretHeaders ?? []),
  };
  if (options.contentLength !== undefined) common.contentLength = nonNegativeInteger('contentLength', options.contentLength);
  if (options.signal !== undefined) {
    if (!(options.signal instanceof AbortSignal)) {
      throw new TypeError(`signal must be an AbortSignal, received ${describe(options.signal)}`);
    }
    common.signal = options.signal;
  }
  return common;
}

const METHODS: readonly UploadMethod[] = ['POST', 'PUT', 'PATCH'];

/** The `method` option of the modes that take one (stream, batch): `POST` by default, any case. */
export function resolveMethod(value: unknown): UploadMethod {
  const method = value === undefined ? 'POST' : (String(value).toUpperCase() as UploadMethod);
  oneOf('method', method, METHODS);
  return method;
}

const DIGEST_ALGORITHMS: readonly DigestAlgorithm[] = ['sha-256', 'sha-512'];

/** The `digest` option of the modes that take one (stream, batch, tus): an RFC 9530 algorithm, or `false` (the default). */
export function resolveDigest(value: unknown): DigestAlgorithm | false {
  if (value === undefined || value === false) return false;
  oneOf('digest', value, DIGEST_ALGORITHMS);
  return value;
}

/**
 * The `got` option: the caller's instance, or got itself. got 15 and 16 make
 * the same calls as got 14 (the library passes its own AbortSignal, never the
 * promise's `.cancel()`, which got 15 removed), so the library works with each
 * through got 14's type.
 */
export function resolveGot(value: GotInstance | undefined): Got {
  const instance = value ?? got;
  if (typeof instance !== 'function' || typeof instance.stream !== 'function') {
    throw new TypeError(`got must be a got instance (got.extend(...)), received ${describe(value)}`);
  }
  return instance as Got;
}
