import { describe, expect, test } from '@jest/globals';
import { DigestMismatchError, HttpStatusError, NetworkError } from '../../lib/index.js';
import { MAX_DIGEST_MISMATCHES_IN_A_ROW, Retrier, type FailedAttempt, type RetrySettings } from '../../lib/http/retry.js';
import { resolveRetry } from '../../lib/options/retry.js';
import got from 'got';
import { manualClock } from '../helpers/manual-clock.js';

const progress = { bytesWritten: 10, bytesSent: 10, bytesAcknowledged: 0 };
const refused = (): FailedAttempt => ({
  error: new NetworkError(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }), progress),
  code: 'ECONNREFUSED',
});
const busy = (retryAfter?: string): FailedAttempt => ({ error: new HttpStatusError({ statusCode: 503, body: 'busy' }, progress), statusCode: 503, retryAfter });

/** The defaults, on a manual clock, with the longest jitter every time. */
function engine(retry: Parameters<typeof resolveRetry>[0] = {}): { retrier: Retrier; clock: ReturnType<typeof manualClock>; settings: RetrySettings } {
  const clock = manualClock();
  const settings = resolveRetry(retry, got);
  return { retrier: new Retrier(settings, { random: () => 1, clock }), clock, settings };
}

/** Fails one attempt after another, waiting each decided delay, until the engine gives up; returns the delays and the final error. */
async function untilGivenUp(
  retrier: Retrier,
  clock: ReturnType<typeof manualClock>,
  failure: () => FailedAttempt,
): Promise<{ delays: number[]; error: Error }> {
  const delays: number[] = [];
  for (;;) {
    retrier.started();
    const decision = await retrier.decide(failure());
    if (!decision.retry) return { delays, error: decision.error };
    delays.push(decision.delay);
    clock.advance(decision.delay);
  }
}

describe('retry budget in time (retry.maxRetryTime)', () => {
  test('the defaults: no count limit, a 120 s budget, backoff capped at 30 s, outlasting a 60 s outage', async () => {
    const { retrier, clock, settings } = engine();
    expect(settings).toMatchObject({ limit: Number.POSITIVE_INFINITY, maxRetryTime: 120_000, backoffLimit: 30_000 });
    const { delays, error } = await untilGivenUp(retrier, clock, refused);
    // 1, 2, 4, 8, 16 s, then 30 s steps, the last shortened to end on the budget.
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 29_000]);
    expect(clock.now()).toBe(120_000);
    expect(error).toBeInstanceOf(NetworkError);
    expect((error as NetworkError).retries).toEqual({ attempts: 9, elapsedMs: 120_000 });
    expect(error.message).toMatch(/\(gave up after 9 failed attempts over 120 s: retry\.maxRetryTime is 120 s\)$/);
    expect(error.stack).toContain('gave up after 9 failed attempts');
  });

  test('an explicit limit applies too: whichever runs out first', async () => {
    const { retrier, clock } = engine({ limit: 3 });
    const { delays, error } = await untilGivenUp(retrier, clock, refused);
    expect(delays).toEqual([1000, 2000, 4000]);
    expect(error.message).toMatch(/gave up after 4 failed attempts over 7 s: retry\.limit is 3/);
    const short = engine({ limit: 100, maxRetryTime: 5000 });
    expect((await untilGivenUp(short.retrier, short.clock, refused)).delays).toEqual([1000, 2000, 2000]);
  });

  test('progress starts the budget again', async () => {
    const { retrier, clock } = engine({ maxRetryTime: 10_000 });
    retrier.started();
    await retrier.decide(refused());
    clock.advance(9000);
    retrier.progressed();
    retrier.started();
    const decision = await retrier.decide(refused());
    expect(decision).toMatchObject({ retry: true, delay: 1000 });
  });

  test('Retry-After is honoured inside the budget and fails at once past it', async () => {
    const { retrier, clock } = engine({ maxRetryTime: 30_000 });
    retrier.started();
    expect(await retrier.decide(busy('20'))).toMatchObject({ retry: true, delay: 20_000, retryAfter: 20_000 });
    clock.advance(20_000);
    retrier.started();
    const decision = await retrier.decide(busy('15'));
    expect(decision.retry).toBe(false);
    const error = (decision as unknown as { error: HttpStatusError }).error;
    expect(error).toBeInstanceOf(HttpStatusError);
    expect(error.message).toMatch(/gave up after 2 failed attempts over 20 s: Retry-After 15 s ends past retry\.maxRetryTime \(30 s\)/);
  });

  test('Infinity retries until acknowledged; limit 0 fails without a note', async () => {
    const { retrier, clock } = engine({ maxRetryTime: Number.POSITIVE_INFINITY });
    for (let i = 0; i < 50; i++) {
      retrier.started();
      const decision = await retrier.decide(refused());
      expect(decision.retry).toBe(true);
      clock.advance((decision as { delay: number }).delay);
    }
    const none = engine({ limit: 0 });
    const { error } = await untilGivenUp(none.retrier, none.clock, refused);
    expect(error.message).not.toMatch(/gave up/);
  });

  test('validation names the field', () => {
    expect(() => resolveRetry({ maxRetryTime: -1 }, got)).toThrow(/retry\.maxRetryTime must not be negative, received -1/);
    expect(() => resolveRetry({ maxRetryTime: '60s' as never }, got)).toThrow(/retry\.maxRetryTime must be a number/);
    expect(() => resolveRetry({ maxRetryTme: 1 } as never, got)).toThrow(/did you mean 'retry\.maxRetryTime'/);
  });
});

describe('bytes refused as corrupted again and again', () => {
  const corrupted = (): FailedAttempt => ({
    error: new DigestMismatchError({ statusCode: 400, body: '<Code>Md5Mismatch</Code>' }, progress),
    statusCode: 400,
  });

  test(`a digest mismatch is resent ${MAX_DIGEST_MISMATCHES_IN_A_ROW} times in a row, then the upload fails saying why`, async () => {
    const { retrier, clock } = engine();
    const { delays, error } = await untilGivenUp(retrier, clock, corrupted);
    expect(delays).toHaveLength(MAX_DIGEST_MISMATCHES_IN_A_ROW);
    expect(error).toBeInstanceOf(DigestMismatchError);
    expect((error as DigestMismatchError).retries).toEqual({ attempts: MAX_DIGEST_MISMATCHES_IN_A_ROW + 1, elapsedMs: clock.now() });
    expect(error.message).toMatch(/gave up after 6 failed attempts over 31 s: the bytes arrived changed 6 times in a row: something on the way alters them\)$/);
  });

  test('the count starts again after progress, and after any other failure', async () => {
    const { retrier } = engine();
    const decide = async (failure: FailedAttempt): Promise<boolean> => {
      retrier.started();
      return (await retrier.decide(failure)).retry;
    };
    for (let i = 0; i < MAX_DIGEST_MISMATCHES_IN_A_ROW; i++) expect(await decide(corrupted())).toBe(true);
    retrier.progressed();
    for (let i = 0; i < MAX_DIGEST_MISMATCHES_IN_A_ROW; i++) expect(await decide(corrupted())).toBe(true);
    expect(await decide(refused())).toBe(true);
    for (let i = 0; i < MAX_DIGEST_MISMATCHES_IN_A_ROW; i++) expect(await decide(corrupted())).toBe(true);
    expect(await decide(corrupted())).toBe(false);
  });
});
