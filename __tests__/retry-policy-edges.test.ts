import { describe, expect, test } from '@jest/globals';
import type { RetryObject } from 'got';
import { decideRetry } from '../lib/transports/retry-policy.js';

const retryOptions = { limit: 5, methods: ['POST', 'PUT', 'PATCH'], statusCodes: [503], errorCodes: ['ECONNRESET'], backoffLimit: Number.POSITIVE_INFINITY, noise: 100 };

function retryObject(error: object, extra: { retryAfter?: number; maxRetryAfter?: number } = {}): RetryObject {
  const options = extra.maxRetryAfter === undefined ? retryOptions : { ...retryOptions, maxRetryAfter: extra.maxRetryAfter };
  return { attemptCount: 1, retryOptions: options, error, retryAfter: extra.retryAfter, computedValue: 0 } as unknown as RetryObject;
}

describe('the batch retry decision at its edges', () => {
  test("an afterResponse hook's retry (got's RetryError) is always honoured, at once, even past the limit", () => {
    const object = retryObject({ name: 'RetryError', options: { method: 'GET' } });
    object.attemptCount = 99;
    expect(decideRetry(object)).toEqual({ retry: true, delay: 1 });
  });

  test('an error without request options has no method, so it is not retried', () => {
    expect(decideRetry(retryObject({ name: 'RequestError', code: 'ECONNRESET' }))).toEqual({ retry: false });
  });

  test('without maxRetryAfter any Retry-After is honoured', () => {
    const error = { name: 'HTTPError', code: 'ERR_NON_2XX_3XX_RESPONSE', options: { method: 'post' }, response: { statusCode: 503 } };
    expect(decideRetry(retryObject(error, { retryAfter: 3_600_000 }))).toEqual({ retry: true, delay: 3_600_000 });
    expect(decideRetry(retryObject(error, { retryAfter: 3_600_000, maxRetryAfter: 1000 }))).toEqual({ retry: false, retryAfterTooLong: 3600 });
  });
});
