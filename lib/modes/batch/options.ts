import type { Compression, DigestAlgorithm, UploadMethod } from '../../types.js';
import type { RetrySettings } from '../../http/retry.js';
import { resolveDigest, resolveMethod, type CommonOptions, type ModeOptionRules } from '../../options/common.js';
import { resolveRetry } from '../../options/retry.js';
import { describe, oneOf, positiveInteger } from '../../options/validators.js';
import { DEFAULT_MAX_CONCURRENCY } from '../../http/adaptive-concurrency.js';
import { resolveSpoolSettings, type ResolvedSpoolSettings } from './spool/settings.js';
import { resolveKeyPlacement, type ResolvedKeyPlacement } from './idempotency-key.js';

export const DEFAULT_CONCURRENCY = 1;

const COMPRESSIONS: readonly Compression[] = ['gzip'];

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
  spool?: ResolvedSpoolSettings;
  /** Where each batch's idempotency key goes (header, query parameter, or both). */
  idempotencyKey: ResolvedKeyPlacement;
  digest: DigestAlgorithm | false;
}

/** batch: one request per buffer, records kept whole, optionally through a spool on disk. */
export const batchRules: ModeOptionRules<BatchOptions> = {
  options: ['method', 'retry', 'concurrency', 'maxConcurrency', 'flushInterval', 'compress', 'spool', 'idempotencyKey', 'digest'],
  resolve(options, common) {
    const method = resolveMethod(options.method);
    const batch: BatchOptions = {
      ...common,
      mode: 'batch',
      method,
      ...resolveConcurrency(options.concurrency, options.maxConcurrency),
      retry: resolveRetry(options.retry, common.got, method),
      idempotencyKey: resolveKeyPlacement(options.idempotencyKey, common.url),
      digest: resolveDigest(options.digest),
    };
    if (options.flushInterval !== undefined) batch.flushInterval = positiveInteger('flushInterval', options.flushInterval);
    if (options.compress !== undefined) {
      oneOf('compress', options.compress, COMPRESSIONS);
      batch.compress = options.compress;
    }
    if (options.spool !== undefined) batch.spool = resolveSpoolSettings(options.spool);
    return batch;
  },
};

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
