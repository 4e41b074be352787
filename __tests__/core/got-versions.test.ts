import { afterEach, describe, expect, test } from '@jest/globals';
import { finished, pipeline } from 'node:stream/promises';
import type { Got } from 'got';
import type { Got as Got15 } from 'got15';
import type { Got as Got16 } from 'got16';
import { BufferedHttpWritable, type GotInstance } from '../../lib/index.js';
import { startBatchServer } from '../helpers/batch-server.js';
import { chunksOf, pattern, readableOf } from '../helpers/data.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { Closer } from '../helpers/outcome.js';
import { sha256, startSink } from '../helpers/sink-server.js';
import { startTusServer } from '../helpers/tus-server.js';

/**
 * The caller's got instance, of each major version a user may bring: got 14
 * (the dependency), got 15 and 16 (installed as the aliases `got15`/`got16`).
 * got 15 removed the promise's `.cancel()`, made `strictContentLength` and
 * `retry.enforceRetryRules` default to true; both need Node ≥ 22.
 */
const NODE_MAJOR = Number(process.versions.node.split('.')[0]);
// Loaded only where the running Node supports them; typed as got 14, as the library calls them.
const VERSIONS = [
  { name: 'got 14', minNode: 20, load: async () => (await import('got')).default },
  { name: 'got 15', minNode: 22, load: async () => (await import('got15')).default as unknown as Got },
  { name: 'got 16', minNode: 22, load: async () => (await import('got16')).default as unknown as Got },
];

// Compiles only while the `got` option's type takes each version's own instance type.
export const acceptsEveryVersion = (instances: [Got, Got15, Got16]): Array<GotInstance | undefined> => instances;

const KiB = 1024;
const closer = new Closer();
afterEach(() => closer.closeAll());

for (const { name, minNode, load } of VERSIONS) {
  const supported = NODE_MAJOR >= minNode;
  const title = supported
    ? `a ${name} instance passed as got`
    : `a ${name} instance passed as got (skipped: needs Node ≥ ${minNode}, this is ${process.version})`;
  (supported ? describe : describe.skip)(title, () => {
    /** The instance as a user would pass it: extended with a header that shows it made the request. */
    const instance = async () => (await load()).extend({ headers: { 'x-got-instance': name } });

    test('stream: the server receives exactly the bytes written, through the instance', async () => {
      const sink = closer.add(await startSink());
      const data = pattern(300 * KiB + 17, 3);
      // A declared length: got 15 checks it against the bytes sent (strictContentLength).
      const upload = new BufferedHttpWritable(sink.url, { mode: 'stream', highWaterMark: 64 * KiB, contentLength: data.length, got: await instance() });
      await pipeline(readableOf(chunksOf(data, [10 * KiB + 3])), upload);

      expect(sink.received).toHaveLength(1);
      expect(sink.received[0]!.sha256).toBe(sha256(data));
      expect(sink.received[0]!.headers['x-got-instance']).toBe(name);
    });

    test('batch: a refused and a cut batch are retried, and the server assembles exactly the bytes written', async () => {
      const server = closer.add(
        await startBatchServer(({ sequence, attempt }) => {
          if (attempt > 1) return { kind: 'ok' };
          if (sequence === 1) return { kind: 'status', status: 503, body: 'busy' };
          if (sequence === 2) return { kind: 'reset', at: 0.5 };
          return { kind: 'ok' };
        }),
      );
      const data = pattern(5 * KiB, 4);
      const upload = new BufferedHttpWritable(server.url, { mode: 'batch', highWaterMark: KiB, retry: { backoffLimit: 2 }, got: await instance() });
      await pipeline(readableOf(chunksOf(data, [KiB])), upload);

      expect(server.assembled().equals(data)).toBe(true);
      expect(server.attempts.filter((each) => each.sequence === 1)).toHaveLength(2);
      expect(server.attempts.filter((each) => each.sequence === 2)).toHaveLength(2);
      expect(server.attempts.every((each) => each.headers['x-got-instance'] === name)).toBe(true);
    });

    test('batch: abort cancels the requests in flight and closes their connections', async () => {
      const server = closer.add(await startBatchServer(() => ({ kind: 'hold' })));
      const controller = new AbortController();
      const upload = new BufferedHttpWritable(server.url, {
        mode: 'batch',
        highWaterMark: 100,
        concurrency: 2,
        signal: controller.signal,
        got: await instance(),
      });
      upload.on('error', () => {});
      for (let i = 0; i < 4; i++) upload.write(pattern(100, i));
      await server.waitFor(() => server.inFlight === 2);

      controller.abort();
      await expect(finished(upload)).rejects.toMatchObject({ name: 'AbortError' });
      await server.waitFor(() => server.connections === 0 && server.inFlight === 0);
      expect(server.attempts).toHaveLength(2);
    });

    test("batch: the instance's own signal still cancels the requests in flight", async () => {
      const server = closer.add(await startBatchServer(() => ({ kind: 'hold' })));
      const controller = new AbortController();
      const own = (await instance()).extend({ signal: controller.signal });
      const upload = new BufferedHttpWritable(server.url, { mode: 'batch', highWaterMark: 100, got: own });
      upload.on('error', () => {});
      upload.write(pattern(100));
      await server.waitFor(() => server.inFlight === 1);

      controller.abort();
      await expect(finished(upload)).rejects.toThrow();
      await server.waitFor(() => server.connections === 0 && server.inFlight === 0);
      expect(server.attempts).toHaveLength(1);
    });

    test('tus: a PATCH cut mid-way is resumed at the server offset, and the store holds exactly the bytes written', async () => {
      const server = closer.add(await startTusServer());
      const proxy = closer.add(await startFaultProxy(server.url, { fault: { kind: 'pass' } }));
      proxy.cutAt([150 * KiB]);
      const data = pattern(400 * KiB + 5, 5);
      const upload = new BufferedHttpWritable(proxy.url(server.url), {
        mode: 'tus',
        highWaterMark: 128 * KiB,
        retry: { backoffLimit: 2 },
        got: await instance(),
      });
      await pipeline(readableOf(chunksOf(data, [16 * KiB + 7])), upload);

      expect(proxy.faults).toBe(1);
      const stored = await server.stored(upload.uploadUrl!);
      expect(stored.sha256).toBe(sha256(data));
      expect(stored.length).toBe(data.length);
      expect(server.requests.some((request) => request.method === 'HEAD')).toBe(true);
      expect(server.requests.every((request) => request.headers['x-got-instance'] === name)).toBe(true);
    });
  });
}
