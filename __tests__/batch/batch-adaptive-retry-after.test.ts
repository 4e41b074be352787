import { afterEach, describe, expect, test } from '@jest/globals';
import { DiagnosticsChannels, type BatchRetriedMessage } from '../../lib/diagnostics.js';
import { BufferedHttpWritable, RetryAfterError } from '../../lib/index.js';
import { startRefusingServer, type CapacityServer } from '../helpers/capacity-server.js';
import { recordChannels } from '../helpers/channels.js';
import { runUpload } from '../helpers/outcome.js';

/**
 * One clock for `Retry-After`: a 429 with `Retry-After` pauses every new
 * attempt of the upload, not only the refused batch. Observed as an
 * ordering: no request reaches the server between the moment the pause was
 * published on `batch:retried` and the end it announced (`pausedUntil`, on
 * `performance.now()`'s clock, which the server's arrival times use too).
 */

/** 40 records of 100 bytes; 1000-byte buffers: exactly 4 batches of 10 records. */
const records = Array.from({ length: 40 }, (_, index) => `${JSON.stringify({ index, pad: 'x'.repeat(60) })}`.padEnd(99, ' ') + '\n');
const expected = Buffer.from(records.join(''));

let server: CapacityServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('Retry-After pauses the whole upload', () => {
  test.each([3, 'auto' as const])('concurrency %s: batches handed over during the pause wait for its end', async (concurrency) => {
    // Capacity 2, answers held: batches 0 and 1 are served and wait; batch 2 is
    // refused with Retry-After: 1. Then the held ones are answered, batch 3 is
    // handed to the transport during the pause, and nothing may go out before it ends.
    server = await startRefusingServer(2, { retryAfter: '1', hold: true });
    const target = server;
    const upload = new BufferedHttpWritable(target.url, {
      mode: 'batch',
      highWaterMark: 1000,
      ...(concurrency === 'auto' ? { concurrency, maxConcurrency: 3 } : { concurrency }),
      retry: { limit: 3 },
    });
    const channels = recordChannels((each) => each === upload);
    void target.waitFor(() => target.refused >= 1).then(() => target.release());
    if (concurrency === 'auto') {
      // 'auto' starts at 1: let it grow to 3 first by answering at once until three requests are open.
      target.holding = false;
    }
    const { error } = await runUpload(upload, records);
    channels.stop();

    expect(error).toBeUndefined();
    expect(target.assembled().equals(expected)).toBe(true);
    expect(target.problems()).toEqual([]);
    const pauses = channels.of<BatchRetriedMessage>(DiagnosticsChannels.batchRetried).filter((each) => each.message.retryAfterMs !== undefined);
    if (concurrency === 3) expect(pauses.length).toBeGreaterThanOrEqual(1);
    for (const pause of pauses) {
      expect(pause.message).toMatchObject({ reason: 'overload', statusCode: 429, retryAfterMs: 1000 });
      const until = pause.message.pausedUntil!;
      expect(until).toBeGreaterThan(pause.at);
      // Ordering, not duration: no arrival falls inside [published, pausedUntil).
      const inside = target.arrivals.filter((arrival) => arrival.at > pause.at && arrival.at < until);
      expect(inside).toEqual([]);
    }
    if (concurrency === 3) {
      // Batch 3 was first sent after the first pause began: its first arrival is after the pause's end.
      const first = pauses[0]!;
      const after = target.arrivals.filter((arrival) => arrival.at > first.at);
      expect(after.length).toBeGreaterThanOrEqual(2);
      for (const arrival of after) expect(arrival.at).toBeGreaterThanOrEqual(first.message.pausedUntil!);
    }
  });

  test('a Retry-After beyond retry.maxRetryAfter still fails with RetryAfterError', async () => {
    server = await startRefusingServer(1, { retryAfter: '120', hold: true });
    const target = server;
    const upload = new BufferedHttpWritable(target.url, { mode: 'batch', highWaterMark: 1000, concurrency: 2, retry: { maxRetryAfter: 5000 } });
    const { error } = await runUpload(upload, records);
    target.release();
    expect(error).toBeInstanceOf(RetryAfterError);
    expect(error).toMatchObject({ code: 'ERR_BHW_RETRY_AFTER', statusCode: 429, retryAfter: 120, sequence: 1, offset: 1000 });
  });
});
