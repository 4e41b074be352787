import { describe, expect, test } from '@jest/globals';
import type { RetryObject } from 'got';
import { decideRetry } from '../lib/transports/retry-policy.js';

const retryOptions = { limit: 5, methods: ['POST', 'PUT', 'PATCH'], statusCodes: [408, 429, 500, 502, 503, 504], errorCodes: ['ECONNRESET', 'EPIPE', 'ETIMEDOUT'], backoffLimit: Number.POSITIVE_INFINITY, noise: 100, maxRetryAfter: 60_000 };

/** What got hands calculateDelay, reduced to the fields the policy reads. */
function failure({ attemptCount = 1, status, code = 'ERR_NON_2XX_3XX_RESPONSE', retryAfter, method = 'POST', backoffLimit }: { attemptCount?: number; status?: number; code?: string; retryAfter?: number; method?: string; backoffLimit?: number }): RetryObject {
  const error = { name: status ? 'HTTPError' : 'RequestError', code, options: { method }, response: status ? { statusCode: status } : undefined };
  return { attemptCount, retryOptions: { ...retryOptions, ...(backoffLimit ? { backoffLimit } : {}) }, error, retryAfter, computedValue: 0 } as unknown as RetryObject;
}

describe('the batch retry schedule', () => {
  test('exponential backoff with full jitter: uniform in [1 ms, min(backoffLimit, 1 s × 2^(n−1))]', () => {
    expect(decideRetry(failure({ status: 503, attemptCount: 1 }), () => 0.999_999)).toEqual({ retry: true, delay: 1000 });
    expect(decideRetry(failure({ status: 503, attemptCount: 3 }), () => 0.5)).toEqual({ retry: true, delay: 2000 });
    expect(decideRetry(failure({ status: 503, attemptCount: 1 }), () => 0)).toEqual({ retry: true, delay: 1 });
    expect(decideRetry(failure({ status: 503, attemptCount: 4, backoffLimit: 300 }), () => 0.5)).toEqual({ retry: true, delay: 150 });
  });

  test('Retry-After is honoured as given, 0 meaning at once (1 ms: got reads 0 as "do not retry")', () => {
    expect(decideRetry(failure({ status: 429, retryAfter: 0 }))).toEqual({ retry: true, delay: 1 });
    expect(decideRetry(failure({ status: 503, retryAfter: 7000 }))).toEqual({ retry: true, delay: 7000 });
    expect(decideRetry(failure({ status: 503, retryAfter: Number.NaN }), () => 0.5)).toEqual({ retry: true, delay: 500 });
  });

  test('a Retry-After over the cap is reported, not silently dropped', () => {
    expect(decideRetry(failure({ status: 503, retryAfter: 61_000 }))).toEqual({ retry: false, retryAfterTooLong: 61 });
  });

  test('what is not retried', () => {
    expect(decideRetry(failure({ status: 413 }))).toEqual({ retry: false });
    expect(decideRetry(failure({ status: 501 }))).toEqual({ retry: false });
    expect(decideRetry(failure({ status: 400 }))).toEqual({ retry: false });
    expect(decideRetry(failure({ status: 503, attemptCount: 6 }))).toEqual({ retry: false });
    expect(decideRetry(failure({ status: 503, method: 'GET' }))).toEqual({ retry: false });
    expect(decideRetry(failure({ code: 'ECONNREFUSED' }))).toEqual({ retry: false });
  });

  test('network errors in the list are retried', () => {
    for (const code of ['ECONNRESET', 'EPIPE', 'ETIMEDOUT']) {
      expect(decideRetry(failure({ code }), () => 0.5)).toEqual({ retry: true, delay: 500 });
    }
  });
});
