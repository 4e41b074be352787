import { describe, expect, test } from '@jest/globals';
import { HttpStatusError, NetworkError, RetryAfterError } from '../../lib/index.js';
import { RETRY_STATUS_CODES, Retrier, backoffDelay, overloadBaseDelay, type FailedAttempt, type RetrySettings } from '../../lib/http/retry.js';
import { retryAfterMs } from '../../lib/http/status.js';

const settings: RetrySettings = {
  maxRetryTime: Number.POSITIVE_INFINITY,
  limit: 5,
  statusCodes: RETRY_STATUS_CODES,
  errorCodes: ['ECONNRESET', 'EPIPE', 'ETIMEDOUT'],
  maxRetryAfter: 60_000,
  backoffLimit: Number.POSITIVE_INFINITY,
};
const progress = { bytesWritten: 10, bytesSent: 10, bytesAcknowledged: 0 };

function answered(statusCode: number, retryAfter?: string): FailedAttempt {
  return { error: new HttpStatusError({ statusCode, body: 'no' }, progress, { sequence: 3, offset: 30 }), statusCode, retryAfter };
}

function cut(code: string): FailedAttempt {
  return { error: new NetworkError(Object.assign(new Error('cut'), { code }), progress), code };
}

/** The decision after `failures` failed attempts in a row of the same kind. */
async function decideAfter(failures: number, attempt: FailedAttempt, options: Partial<RetrySettings> = {}, random = () => 0.5) {
  const retrier = new Retrier({ ...settings, ...options }, random);
  let decision;
  for (let i = 0; i < failures; i++) decision = await retrier.decide(attempt);
  return decision!;
}

describe('one classification of statuses and error codes for batch and tus', () => {
  test.each([408, 409, 423, 425, 429, 500, 502, 503, 504])('%i is retried', async (status) => {
    expect(await decideAfter(1, answered(status))).toMatchObject({ retry: true, reason: String(status) });
  });

  test.each([400, 401, 403, 404, 410, 413, 422, 501, 505, 507, 511])('%i is not retried, and its error is the one reported', async (status) => {
    const attempt = answered(status);
    expect(await decideAfter(1, attempt)).toEqual({ retry: false, error: attempt.error });
  });

  test('network errors in the list are retried, others are not', async () => {
    expect(await decideAfter(1, cut('ECONNRESET'))).toMatchObject({ retry: true, reason: 'ECONNRESET' });
    expect(await decideAfter(1, cut('CERT_HAS_EXPIRED'))).toMatchObject({ retry: false });
  });

  test('retry.statusCodes replaces the list', async () => {
    expect(await decideAfter(1, answered(503), { statusCodes: [418] })).toMatchObject({ retry: false });
    expect(await decideAfter(1, answered(418), { statusCodes: [418] })).toMatchObject({ retry: true });
  });

  test('a failure the transport marks retryable (a tus PATCH that stored nothing) is retried', async () => {
    const attempt: FailedAttempt = { error: answered(200).error, retryable: true };
    expect(await decideAfter(1, attempt)).toMatchObject({ retry: true, reason: 'no-progress' });
  });
});

describe('the retry limit counts failures in a row without progress', () => {
  test('limit 5: the sixth failure in a row ends it', async () => {
    expect(await decideAfter(5, answered(503))).toMatchObject({ retry: true });
    expect(await decideAfter(6, answered(503))).toMatchObject({ retry: false });
  });

  test('progress resets the count', async () => {
    const retrier = new Retrier({ ...settings, limit: 1 });
    expect(await retrier.decide(answered(503))).toMatchObject({ retry: true });
    retrier.progressed();
    expect(await retrier.decide(answered(503))).toMatchObject({ retry: true });
    expect(await retrier.decide(answered(503))).toMatchObject({ retry: false });
  });

  test('limit 0: no retry at all', async () => {
    expect(await decideAfter(1, answered(503), { limit: 0 })).toMatchObject({ retry: false });
  });
});

describe('backoff and Retry-After', () => {
  test('exponential backoff with full jitter: uniform in [1 ms, min(backoffLimit, 1 s × 2^(n−1))]', async () => {
    expect(await decideAfter(1, answered(503), {}, () => 0.999_999)).toMatchObject({ delay: 1000 });
    expect(await decideAfter(3, answered(503), {}, () => 0.5)).toMatchObject({ delay: 2000 });
    expect(await decideAfter(1, answered(503), {}, () => 0)).toMatchObject({ delay: 1 });
    expect(await decideAfter(4, answered(503), { backoffLimit: 300 }, () => 0.5)).toMatchObject({ delay: 150 });
    expect(backoffDelay(2, undefined, () => 1)).toBe(2000);
  });

  test('Retry-After is honoured as given, 0 meaning at once (1 ms)', async () => {
    expect(await decideAfter(1, answered(429, '0'))).toMatchObject({ retry: true, delay: 1 });
    expect(await decideAfter(1, answered(503, '7'))).toMatchObject({ retry: true, delay: 7000 });
    expect(await decideAfter(1, answered(503, 'soon'), {}, () => 0.5)).toMatchObject({ retry: true, delay: 500 });
  });

  test('a Retry-After over maxRetryAfter fails with RetryAfterError, keeping the answer and position', async () => {
    const decision = await decideAfter(1, answered(503, '61'));
    expect(decision.retry).toBe(false);
    const error = (decision as unknown as { error: RetryAfterError }).error;
    expect(error).toBeInstanceOf(RetryAfterError);
    expect(error).toMatchObject({ code: 'ERR_BHW_RETRY_AFTER', retryAfter: 61, statusCode: 503, sequence: 3, offset: 30, bytesWritten: 10 });
  });

  test('a wait decided by Retry-After says so (the batch transport puts it on the upload-wide pause); a backoff does not', async () => {
    expect(await decideAfter(1, answered(429, '2'))).toMatchObject({ retry: true, delay: 2000, retryAfter: 2000 });
    expect(await decideAfter(1, answered(503))).not.toHaveProperty('retryAfter');
    const calculateDelay = (): number => 300;
    expect(await decideAfter(1, answered(429, '2'), { calculateDelay })).toMatchObject({ retry: true, delay: 300, retryAfter: 2000 });
  });

  test("'auto' mode: a 429/503 without Retry-After starts from a few RTTs for three refusals in a row, then the usual schedule", async () => {
    const retrier = new Retrier(settings, { random: () => 0.999_999, overloadBaseDelay: () => overloadBaseDelay(7) });
    const delays: number[] = [];
    for (let failure = 1; failure <= 5; failure++) {
      const decision = await retrier.decide(answered(failure % 2 ? 429 : 503));
      delays.push((decision as { delay: number }).delay);
    }
    expect(delays).toEqual([14, 28, 56, 8000, 16_000]);
    // Failures other than refusals keep the 1 s step; so does a Retry-After.
    const other = new Retrier(settings, { random: () => 0.999_999, overloadBaseDelay: () => 14 });
    expect(await other.decide(answered(500))).toMatchObject({ delay: 1000 });
    expect(overloadBaseDelay(undefined)).toBe(10);
    expect(overloadBaseDelay(1)).toBe(10);
  });

  test('retryAfterMs reads seconds and HTTP dates (RFC 9110 §10.2.3)', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs(undefined)).toBeUndefined();
    expect(retryAfterMs(' 12 ')).toBe(12_000);
    expect(retryAfterMs('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5000);
    expect(retryAfterMs('Wed, 31 Dec 2025 23:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs('later', now)).toBeUndefined();
  });
});

describe("the caller's calculateDelay", () => {
  test("sees the engine's decision as computedValue and has the last word", async () => {
    const seen: number[] = [];
    const calculateDelay = ({ computedValue }: { computedValue: number }): number => (seen.push(computedValue), 1);
    expect(await decideAfter(1, answered(400), { calculateDelay })).toMatchObject({ retry: true, delay: 1 });
    expect(seen).toEqual([0]);
    const never = (): number => 0;
    expect(await decideAfter(1, answered(503), { calculateDelay: never })).toMatchObject({ retry: false });
  });
});
