import { afterEach, describe, expect, test } from '@jest/globals';
import got, { type Response } from 'got';
import { gzipSync } from 'node:zlib';
import { startQueueingServer, startRefusingServer, startSizeLimitServer, type CapacityServer } from '../helpers/capacity-server.js';

/**
 * The capacity servers that the adaptive-concurrency, Retry-After and 413
 * tests (and the overload bench) rely on, checked with plain got requests.
 */

/** One batch request, as the batch transport sends it; no retries, every status returned. */
function post(
  url: string,
  sequence: number,
  offset: number,
  body: Buffer,
  key = `key-${sequence}`,
  headers: Record<string, string> = {},
): Promise<Response<string>> {
  return got.post(url, {
    body,
    headers: { 'Batch-Sequence': String(sequence), 'Batch-Offset': String(offset), 'Idempotency-Key': key, ...headers },
    retry: { limit: 0 },
    throwHttpErrors: false,
  });
}

describe('capacity servers', () => {
  let server: CapacityServer | undefined;
  afterEach(async () => {
    server?.release();
    await server?.close();
    server = undefined;
  });

  describe('refusing (429 above N being served)', () => {
    test.each([
      ['without Retry-After', undefined],
      ['with Retry-After', '2'],
    ])('%s: the request over capacity is refused, the others are stored', async (_name, retryAfter) => {
      server = await startRefusingServer(2, { hold: true, ...(retryAfter ? { retryAfter } : {}) });
      const answers = [0, 1, 2].map((sequence) => post(server!.url, sequence, sequence * 3, Buffer.from(`b${sequence}\n`)));
      // Two are being served (held), the third was answered 429 on arrival.
      await server.waitFor(() => server!.refused === 1 && server!.active === 2);
      server.release();
      const statuses = (await Promise.all(answers)).map((response) => response.statusCode).sort();
      expect(statuses).toEqual([200, 200, 429]);
      const refused = (await Promise.all(answers)).find((response) => response.statusCode === 429)!;
      expect(refused.headers['retry-after']).toBe(retryAfter);
      expect(server.requests).toBe(3);
      expect(server.stored.size).toBe(2);
      expect(server.maxActive).toBe(2);
      expect(server.maxInFlight).toBe(3);
    });

    test('below capacity nothing is refused; a repeated key is stored once', async () => {
      server = await startRefusingServer(4);
      await post(server.url, 0, 0, Buffer.from('abc'));
      await post(server.url, 0, 0, Buffer.from('abc'));
      await post(server.url, 1, 3, Buffer.from('def'));
      expect(server.refused).toBe(0);
      expect(server.stored.size).toBe(2);
      expect([server.duplicates, server.mismatches]).toEqual([1, 0]);
      expect(server.assembled().toString()).toBe('abcdef');
      expect(server.problems()).toEqual([]);
    });
  });

  describe('queueing (latency grows above N, never an error)', () => {
    test('serves N at once and queues the rest, answering all 200', async () => {
      server = await startQueueingServer(1, { hold: true });
      const answers = [0, 1, 2].map((sequence) => post(server!.url, sequence, sequence, Buffer.from([65 + sequence])));
      await server.waitFor(() => server!.active === 1 && server!.queued === 2);
      server.release();
      expect((await Promise.all(answers)).map((response) => response.statusCode)).toEqual([200, 200, 200]);
      expect(server.maxActive).toBe(1);
      expect(server.maxInFlight).toBe(3);
      expect(server.answers).toEqual(new Map([[200, 3]]));
      expect(server.assembled().toString()).toBe('ABC');
    });

    test('with a real latency timer, every request is answered and at most N are served at once', async () => {
      server = await startQueueingServer(2, { latencyMs: 5 });
      const answers = await Promise.all(
        Array.from({ length: 8 }, (_each, sequence) => post(server!.url, sequence, sequence * 2, Buffer.from(`${sequence}\n`))),
      );
      expect(answers.every((response) => response.statusCode === 200)).toBe(true);
      expect(server.maxActive).toBeLessThanOrEqual(2);
      expect(server.stored.size).toBe(8);
      expect(server.problems()).toEqual([]);
      expect(server.queued).toBe(0);
    });
  });

  describe('size limit (413 above S bytes)', () => {
    test('a body over the limit is refused and not stored; one at the limit is stored', async () => {
      server = await startSizeLimitServer(10);
      expect((await post(server.url, 0, 0, Buffer.alloc(11, 1))).statusCode).toBe(413);
      expect((await post(server.url, 0, 0, Buffer.alloc(10, 1), 'key-0.0')).statusCode).toBe(200);
      expect(server.answers).toEqual(
        new Map([
          [413, 1],
          [200, 1],
        ]),
      );
      expect(server.stored.size).toBe(1);
    });

    test('pieces of a split batch reassemble by offset; gzip bodies are decoded', async () => {
      server = await startSizeLimitServer(1000);
      await post(server.url, 3, 105, gzipSync('world\n'), 'k-3.1', { 'Content-Encoding': 'gzip' });
      await post(server.url, 3, 100, Buffer.from('hello'), 'k-3.0');
      expect(server.byOffset().map((batch) => [batch.key, batch.sequence, batch.offset])).toEqual([
        ['k-3.0', 3, 100],
        ['k-3.1', 3, 105],
      ]);
      expect(server.assembled().toString()).toBe('helloworld\n');
      // The upload started at 0, so the first 100 bytes are missing.
      expect(server.problems()).toEqual(['gap at 0: next batch k-3.0 starts at 100']);
    });
  });
});
