import { afterEach, describe, expect, test } from '@jest/globals';
import got from 'got';
import { pipeline } from 'node:stream/promises';
import {
  BufferedHttpWritable,
  HttpStatusError,
  NetworkError,
  RedirectError,
  RetryAfterError,
  type BatchModeOptions,
  type BatchReport,
} from '../../lib/index.js';
import { startBatchServer, type BatchServer, type FaultPlan } from '../helpers/batch-server.js';
import { pattern, readableOf } from '../helpers/data.js';

const highWaterMark = 100;
/** Ten writes of exactly highWaterMark: ten batches of 100 bytes, offsets 0, 100, … */
const tenBatches = (): Buffer[] => Array.from({ length: 10 }, (_value, index) => pattern(highWaterMark, index + 1));
const fast = { backoffLimit: 2 };

/** Runs an upload of ten batches that must fail; returns the error and the upload. */
async function failingUpload(url: string, options: Omit<BatchModeOptions, 'mode'> = {}): Promise<{ error: unknown; upload: BufferedHttpWritable }> {
  const upload = new BufferedHttpWritable(url, { mode: 'batch', highWaterMark, retry: fast, ...options });
  const error = await pipeline(readableOf(tenBatches()), upload).then(
    () => undefined,
    (reason: unknown) => reason,
  );
  return { error, upload };
}

describe('batch retries', () => {
  let server: BatchServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  const start = async (plan: FaultPlan): Promise<BatchServer> => (server = await startBatchServer(plan));
  const attemptsOf = (sequence: number): number => server!.attempts.filter((attempt) => attempt.sequence === sequence).length;

  test('the Idempotency-Key is identical across retries of a batch and distinct across batches', async () => {
    await start(({ sequence, attempt }) => (sequence === 1 && attempt <= 3 ? { kind: 'status', status: 500 } : { kind: 'ok' }));
    const upload = new BufferedHttpWritable(server!.url, { mode: 'batch', highWaterMark, retry: fast });
    await pipeline(readableOf(tenBatches().slice(0, 3)), upload);

    const keysOf = (sequence: number): Set<string> =>
      new Set(server!.attempts.filter((attempt) => attempt.sequence === sequence).map((attempt) => attempt.key));
    expect(attemptsOf(1)).toBe(4);
    expect(keysOf(1).size).toBe(1);
    const keys = [0, 1, 2].map((sequence) => [...keysOf(sequence)][0]);
    expect(new Set(keys).size).toBe(3);
    // Every attempt carries the same batch headers.
    for (const attempt of server!.attempts.filter((each) => each.sequence === 1)) {
      expect(attempt.headers).toMatchObject({ 'batch-sequence': '1', 'batch-offset': '100', 'content-length': '100' });
    }
  });

  test('POST, PUT and PATCH are all retried', async () => {
    for (const method of ['POST', 'PUT', 'PATCH'] as const) {
      const target = await startBatchServer(({ attempt }) => (attempt === 1 ? { kind: 'reset', at: 0.5 } : { kind: 'ok' }));
      try {
        const upload = new BufferedHttpWritable(target.url, { mode: 'batch', method, highWaterMark, retry: fast });
        await pipeline(readableOf(tenBatches().slice(0, 2)), upload);
        expect(target.attempts).toHaveLength(4);
        expect(target.attempts.every((attempt) => attempt.headers['idempotency-key'] !== undefined)).toBe(true);
      } finally {
        await target.close();
      }
    }
  });

  test('Retry-After: 0 is retried at once, not after a backoff', async () => {
    await start(({ attempt }) => (attempt <= 2 ? { kind: 'status', status: 503, retryAfter: '0' } : { kind: 'ok' }));
    const delays: number[] = [];
    // The user's calculateDelay sees the library's decision as computedValue, as in got.
    const retry = { calculateDelay: ({ computedValue }: { computedValue: number }) => (delays.push(computedValue), computedValue) };
    const upload = new BufferedHttpWritable(server!.url, { mode: 'batch', highWaterMark, retry });
    const reports: BatchReport[] = [];
    upload.on('batch', (report) => reports.push(report));
    await pipeline(readableOf([pattern(10)]), upload);

    expect(delays).toEqual([1, 1]);
    expect(reports).toEqual([{ sequence: 0, offset: 0, size: 10, statusCode: 200, attempts: 3 }]);
  });

  test('a Retry-After within the cap is honoured', async () => {
    await start(({ attempt }) => (attempt === 1 ? { kind: 'status', status: 429, retryAfter: '2' } : { kind: 'ok' }));
    const delays: number[] = [];
    const retry = { maxRetryAfter: 5000, calculateDelay: ({ computedValue }: { computedValue: number }) => (delays.push(computedValue), 1) };
    const upload = new BufferedHttpWritable(server!.url, { mode: 'batch', highWaterMark, retry });
    await pipeline(readableOf([pattern(10)]), upload);
    expect(delays).toEqual([2000]);
  });

  test('a Retry-After beyond retry.maxRetryAfter fails with RetryAfterError', async () => {
    await start(() => ({ kind: 'status', status: 503, retryAfter: '120', body: 'maintenance' }));
    const { error } = await failingUpload(server!.url, { retry: { maxRetryAfter: 1000 } });
    expect(error).toBeInstanceOf(RetryAfterError);
    expect(error).toMatchObject({
      code: 'ERR_BHW_RETRY_AFTER',
      statusCode: 503,
      retryAfter: 120,
      sequence: 0,
      offset: 0,
      bytesAcknowledged: 0,
      body: 'maintenance',
    });
    expect(server!.attempts).toHaveLength(1);
  });

  test('the default Retry-After cap is 60 s', async () => {
    await start(() => ({ kind: 'status', status: 503, retryAfter: '61' }));
    const { error } = await failingUpload(server!.url);
    expect(error).toBeInstanceOf(RetryAfterError);
    expect((error as Error).message).toContain('60s cap');
  });

  test.each([413, 501, 401])('%i is not retried', async (status) => {
    await start(() => ({ kind: 'status', status, body: 'no' }));
    const { error } = await failingUpload(server!.url);
    expect(error).toBeInstanceOf(HttpStatusError);
    expect(error).toMatchObject({ code: 'ERR_BHW_HTTP_STATUS', statusCode: status, sequence: 0, body: 'no' });
    expect(server!.attempts).toHaveLength(1);
  });

  test('retries exhausted: the last status is reported after limit + 1 attempts', async () => {
    await start(() => ({ kind: 'status', status: 503, body: 'still down' }));
    const { error } = await failingUpload(server!.url, { retry: { ...fast, limit: 2 } });
    expect(error).toMatchObject({ code: 'ERR_BHW_HTTP_STATUS', statusCode: 503, sequence: 0, body: 'still down' });
    expect(server!.attempts).toHaveLength(3);
  });

  test('a connection cut on every attempt ends in NetworkError', async () => {
    await start(() => ({ kind: 'reset', at: 0.3 }));
    const { error } = await failingUpload(server!.url, { retry: { ...fast, limit: 2 } });
    expect(error).toBeInstanceOf(NetworkError);
    expect(['ECONNRESET', 'EPIPE']).toContain((error as NetworkError).causeCode);
    expect(error).toMatchObject({ code: 'ERR_BHW_NETWORK', sequence: 0, offset: 0, bytesAcknowledged: 0 });
    expect(server!.attempts).toHaveLength(3);
  });

  test('a redirect is neither followed nor retried, whatever the got instance says', async () => {
    await start(({ sequence }) => (sequence === 1 ? { kind: 'status', status: 307, body: 'moved' } : { kind: 'ok' }));
    const instance = got.extend({ followRedirect: true, throwHttpErrors: true, resolveBodyOnly: true, responseType: 'json' });
    const { error } = await failingUpload(server!.url, { got: instance });
    expect(error).toBeInstanceOf(RedirectError);
    expect(error).toMatchObject({ code: 'ERR_BHW_REDIRECT', statusCode: 307, sequence: 1, offset: 100, bytesAcknowledged: 100 });
    expect(server!.attempts).toHaveLength(2);
  });

  test('a got instance that throws on HTTP errors still gets retries and acknowledgements', async () => {
    await start(({ attempt }) => (attempt === 1 ? { kind: 'status', status: 502 } : { kind: 'ok' }));
    const instance = got.extend({ throwHttpErrors: true, resolveBodyOnly: true, responseType: 'json', retry: { limit: 0, statusCodes: [] } });
    const upload = new BufferedHttpWritable(server!.url, { mode: 'batch', highWaterMark, got: instance, retry: fast });
    await pipeline(readableOf(tenBatches().slice(0, 2)), upload);
    expect(server!.attempts).toHaveLength(4);
    expect(JSON.parse(upload.response!.body)).toEqual({ sequence: 1, bytes: 100 });
  });
});

describe('a permanent failure ends the upload', () => {
  let server: BatchServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  test('a 400 on batch 2 fails with its sequence and the exact bytes acknowledged; later batches are not sent', async () => {
    server = await startBatchServer(({ sequence }) =>
      sequence === 2 ? { kind: 'status', status: 400, body: `bad record ${'x'.repeat(10_000)}` } : { kind: 'ok' },
    );
    const { error, upload } = await failingUpload(server.url);

    expect(error).toBeInstanceOf(HttpStatusError);
    const failure = error as HttpStatusError;
    expect(failure).toMatchObject({ code: 'ERR_BHW_HTTP_STATUS', statusCode: 400, sequence: 2, offset: 200, bytesAcknowledged: 200 });
    expect(failure.body.startsWith('bad record')).toBe(true);
    expect(failure.body.length).toBe(4096);
    expect(failure.message).toContain('for batch 2');
    expect(Math.max(...server.attempts.map((attempt) => attempt.sequence))).toBe(2);
    expect(upload.bytesAcknowledged).toBe(200);
    expect(upload.progress.batchesAcknowledged).toBe(2);
    expect(upload.errored).toBe(error);
  });

  test('with concurrency 4, acknowledged bytes stay a contiguous prefix and nothing is sent past the in-flight window', async () => {
    server = await startBatchServer(({ sequence }) => (sequence === 5 ? { kind: 'status', status: 422 } : { kind: 'ok' }));
    const { error } = await failingUpload(server.url, { concurrency: 4 });

    expect(error).toMatchObject({ statusCode: 422, sequence: 5, offset: 500 });
    const acknowledged = (error as HttpStatusError).bytesAcknowledged;
    expect(acknowledged % highWaterMark).toBe(0);
    expect(acknowledged).toBeLessThanOrEqual(500);
    // While batch 5 was in flight, at most batches 6 to 8 were too.
    expect(Math.max(...server.attempts.map((attempt) => attempt.sequence))).toBeLessThanOrEqual(8);
  });
});
