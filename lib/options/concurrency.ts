import { DEFAULT_MAX_CONCURRENCY } from '../http/adaptive-concurrency.js';
import { describe, positiveInteger } from './validators.js';

/** The modes that send buffers in parallel (batch, s3, azure-blob): `concurrency` (a number or `'auto'`) and `maxConcurrency`, which only `'auto'` takes. */
export function resolveConcurrency(
  concurrency: unknown,
  maxConcurrency: unknown,
  defaultConcurrency: number,
): { concurrency: number | 'auto'; maxConcurrency: number } {
  if (concurrency === 'auto') {
    return { concurrency, maxConcurrency: positiveInteger('maxConcurrency', maxConcurrency ?? DEFAULT_MAX_CONCURRENCY) };
  }
  if (typeof concurrency === 'string') throw new TypeError(`concurrency must be a positive integer or 'auto', received ${describe(concurrency)}`);
  const fixed = positiveInteger('concurrency', concurrency ?? defaultConcurrency);
  if (maxConcurrency !== undefined) {
    throw new TypeError(`maxConcurrency applies only with concurrency: 'auto' (concurrency is ${fixed}), received ${describe(maxConcurrency)}`);
  }
  return { concurrency: fixed, maxConcurrency: fixed };
}
