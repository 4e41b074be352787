import { afterEach, describe, expect, test } from '@jest/globals';
import { finished } from 'node:stream/promises';
import { BufferedHttpWritable } from '../lib/index.js';
import { startBatchServer, type BatchServer } from './helpers/batch-server.js';
import { pattern } from './helpers/data.js';

/** Resolves after everything already queued as a microtask has run. */
const macrotask = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

// A timer or socket left behind would keep jest from exiting on its own (the
// suite is never forced to exit): a 30 s Retry-After timer would show at once.
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
    let retrying!: () => void;
    const retryDecided = new Promise<void>((resolve) => (retrying = resolve));
    const retry = {
      calculateDelay: ({ computedValue }: { computedValue: number }) => {
        retrying();
        return computedValue;
      },
    };
    const upload = new BufferedHttpWritable(server.url, { mode: 'batch', signal: controller.signal, retry });
    upload.on('error', () => {});
    upload.write(pattern(100));
    void upload.flush().catch(() => {});

    await retryDecided;
    // got arms its timer in the microtasks that follow calculateDelay: from
    // the next macrotask on, the batch is waiting for its retry.
    await macrotask();

    controller.abort();
    await expect(finished(upload)).rejects.toMatchObject({ name: 'AbortError' });
    await target.waitFor(() => target.connections === 0);
    expect(target.attempts).toHaveLength(1);
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

  test('destroy() mid-retry ends the upload with that error', async () => {
    server = await startBatchServer(() => ({ kind: 'status', status: 500, close: true }));
    const target = server;
    const upload = new BufferedHttpWritable(server.url, { mode: 'batch', retry: { backoffLimit: 60_000, limit: 3 } });
    upload.write(pattern(100));
    void upload.flush().catch(() => {});
    await target.waitFor(() => target.attempts.length === 1 && target.attempts[0]!.answered);
    const reason = new Error('shutting down');
    upload.destroy(reason);
    await expect(finished(upload)).rejects.toBe(reason);
    await target.waitFor(() => target.connections === 0);
  });
});
