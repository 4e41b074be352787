import { afterEach, describe, expect, test } from '@jest/globals';
import { finished } from 'node:stream/promises';
import { BufferedHttpWritable } from '../../lib/index.js';
import { startBatchServer, type BatchServer } from '../helpers/batch-server.js';
import { pattern } from '../helpers/data.js';
import { watchTimers } from '../helpers/timers.js';

// A timer or socket left behind would also keep jest from exiting on its own
// (the suite is never forced to exit); the tests check for both themselves.
describe('abort leaves nothing open', () => {
  let server: BatchServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  test('abort while waiting for a retry clears the retry timer', async () => {
    // A long Retry-After (within the cap) keeps got waiting; Connection: close
    // leaves no keep-alive socket behind, so the server's count can reach 0.
    server = await startBatchServer(() => ({ kind: 'status', status: 503, retryAfter: '30', close: true }));
    const target = server;
    const controller = new AbortController();
    const timers = watchTimers();
    try {
      // Aborts once got has armed its timer for the Retry-After: the batch is waiting for its retry.
      void timers.armed((ms) => ms === 30_000).then(() => controller.abort());
      const upload = new BufferedHttpWritable(server.url, { mode: 'batch', signal: controller.signal });
      upload.on('error', () => {});
      upload.write(pattern(100));
      void upload.flush().catch(() => {});

      await expect(finished(upload)).rejects.toMatchObject({ name: 'AbortError' });
      expect(timers.pending()).toEqual([]);
      await target.waitFor(() => target.connections === 0);
      expect(target.attempts).toHaveLength(1);
    } finally {
      timers.restore();
    }
  });

  test('abort while batches are in flight closes their connections', async () => {
    server = await startBatchServer(() => ({ kind: 'hold' }));
    const target = server;
    const controller = new AbortController();
    const upload = new BufferedHttpWritable(server.url, { mode: 'batch', highWaterMark: 100, concurrency: 3, signal: controller.signal });
    upload.on('error', () => {});
    for (let i = 0; i < 6; i++) upload.write(pattern(100, i));

    await target.waitFor(() => target.attempts.length === 3 && target.inFlight === 3);
    controller.abort();
    await expect(finished(upload)).rejects.toMatchObject({ name: 'AbortError' });
    await target.waitFor(() => target.connections === 0 && target.inFlight === 0);
    expect(target.attempts).toHaveLength(3);
  });

  test('destroy() mid-retry ends the upload with that error and clears the backoff timer', async () => {
    server = await startBatchServer(() => ({ kind: 'status', status: 500, close: true }));
    const target = server;
    const timers = watchTimers();
    try {
      const upload = new BufferedHttpWritable(server.url, { mode: 'batch', retry: { backoffLimit: 60_000, limit: 3 } });
      const reason = new Error('shutting down');
      // Destroys once got has armed its backoff timer after the 500, not merely
      // once the server has answered (got may not have read the answer yet).
      void timers.armed().then(() => upload.destroy(reason));
      upload.write(pattern(100));
      void upload.flush().catch(() => {});

      await expect(finished(upload)).rejects.toBe(reason);
      expect(timers.pending()).toEqual([]);
      await target.waitFor(() => target.connections === 0);
      expect(target.attempts).toHaveLength(1);
    } finally {
      timers.restore();
    }
  });
});
