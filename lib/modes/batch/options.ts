import type { Compression, DigestAlgorithm, UploadMethod } from '../../types.js';
import type { RetrySettings } from '../../http/retry.js';
import { resolveDigest, resolveMethod, type CommonOptions, type ModeOptionRules } from '../../options/common.js';
import { resolveRetry } from '../../options/retry.js';
import { oneOf, positiveInteger } from '../../options/validators.js';
import { resolveConcurrency } from '../../options/concurrency.js';
import { resolveSpoolSettings, type ResolvedSpoolSettings } from './spool/settings.js';
import { resolveKeyPlacement, type ResolvedKeyPlacement } from './idempotency-key.js';

/** batch: one request at a time unless asked (a server that keeps order needs nothing more). */
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
      ...resolveConcurrency(options.concurrency, options.maxConcurrency, DEFAULT_CONCURRENCY),
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
