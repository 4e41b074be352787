import { describe, expect, test } from '@jest/globals';
import { HttpStatusError } from '../../lib/index.js';
import { AttemptFailed, retrying } from '../../lib/http/retry-loop.js';
import { RETRY_STATUS_CODES, type RetrySettings } from '../../lib/http/retry.js';

const settings: RetrySettings = {
  maxRetryTime: Number.POSITIVE_INFINITY,
  limit: 2,
  statusCodes: RETRY_STATUS_CODES,
  errorCodes: [],
  maxRetryAfter: 60_000,
  backoffLimit: 2,
};
const progress = { bytesWritten: 0, bytesSent: 0, bytesAcknowledged: 0 };

function refused(statusCode: number): AttemptFailed {
  return new AttemptFailed({ error: new HttpStatusError({ statusCode, body: '' }, progress), statusCode });
}

describe('the one retry loop', () => {
  test('repeats a retried status until the attempt succeeds', async () => {
    let calls = 0;
    const result = await retrying(
      async (attempts) => {
        calls++;
        if (attempts < 3) throw refused(503);
        return attempts;
      },
      { settings },
    );
    expect(result).toBe(3);
    expect(calls).toBe(3);
  });

  test('a status the policy does not repeat ends the loop with its error', async () => {
    let calls = 0;
    const failure = refused(404);
    await expect(
      retrying(
        async () => {
          calls++;
          throw failure;
        },
        { settings },
      ),
    ).rejects.toBe(failure.attempt.error);
    expect(calls).toBe(1);
  });

  test('an error that is no failed attempt passes through at once', async () => {
    const error = new Error('protocol');
    await expect(retrying(() => Promise.reject(error), { settings })).rejects.toBe(error);
  });

  test('progress during a failed attempt resets the count: more failures in all than the limit', async () => {
    let position = 0;
    let calls = 0;
    const result = await retrying(
      async () => {
        calls++;
        if (calls <= 5) {
          position++;
          throw refused(503);
        }
        return 'done';
      },
      { settings, progress: () => position },
    );
    expect(result).toBe('done');
    expect(calls).toBe(6);
  });

  test('settle takes a failure out of the policy hands', async () => {
    const result = await retrying(
      async () => {
        throw refused(413);
      },
      { settings, settle: (failure) => (failure.statusCode === 413 ? Promise.resolve('split') : undefined) },
    );
    expect(result).toBe('split');
  });

  test('beforeRetry hears each retry, and the promise it returns is the wait', async () => {
    const heard: Array<{ attempts: number; statusCode: number | undefined }> = [];
    let calls = 0;
    await retrying(
      async () => {
        if (++calls < 3) throw refused(429);
        return calls;
      },
      {
        settings: { ...settings, backoffLimit: 60_000 },
        beforeRetry: ({ attempts, failure }) => {
          heard.push({ attempts, statusCode: failure.statusCode });
          return Promise.resolve();
        },
      },
    );
    expect(heard).toEqual([
      { attempts: 1, statusCode: 429 },
      { attempts: 2, statusCode: 429 },
    ]);
  });

  test('an abort ends the wait before a retry at once, with an AbortError', async () => {
    const controller = new AbortController();
    const loop = retrying(
      async () => {
        throw refused(503);
      },
      { settings: { ...settings, backoffLimit: 60_000 }, signal: controller.signal, policy: { random: () => 1 } },
    );
    setImmediate(() => controller.abort());
    await expect(loop).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
  });
});
