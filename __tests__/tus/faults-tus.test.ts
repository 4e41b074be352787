/**
 * Fault table, tus mode: after a lost connection, a timeout or a throttle the
 * transport asks HEAD where the server stands and resends from there out of
 * the buffer it still holds, so the upload completes byte-exact; a fault that
 * persists past `retry.limit`, or an answer retrying cannot change (413, 401),
 * fails with a typed error that says where to resume. See the fault table in README.md.
 */
import { afterEach, describe, expect, jest, test } from '@jest/globals';
import got from 'got';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BufferedHttpWritable, HttpStatusError, NetworkError, RetryAfterError } from '../../lib/index.js';
import { chunksOf, pattern } from '../helpers/data.js';
import { startFaultProxy, type FaultPlan } from '../helpers/fault-proxy.js';
import { Closer, runUpload } from '../helpers/outcome.js';
import { readBody, sha256 } from '../helpers/sink-server.js';
import { startTusServer, type TusTestServer } from '../helpers/tus-server.js';

jest.setTimeout(20_000);

const KiB = 1024;
const closer = new Closer();
afterEach(() => closer.closeAll());

const highWaterMark = 128 * KiB;
const data = pattern(6 * highWaterMark + 1234, 8);
const chunks = chunksOf(data, [16 * KiB + 7]);
const fast = { backoffLimit: 2 };

async function tusThroughProxy(fault: FaultPlan): Promise<{ url: string; server: TusTestServer; proxy: Awaited<ReturnType<typeof startFaultProxy>> }> {
  const server = closer.add(await startTusServer());
  const proxy = closer.add(await startFaultProxy(server.url, { fault }));
  return { url: proxy.url(server.url), server, proxy };
}

/**
 * A front server that answers some requests itself and hands the rest to the
 * real tus server (whose Locations follow the Host, so they point back here).
 */
async function tusBehind(intercept: (request: IncomingMessage, response: ServerResponse) => boolean): Promise<{ url: string; server: TusTestServer }> {
  const server = closer.add(await startTusServer());
  const front = createServer((request, response) => {
    if (!intercept(request, response)) void server.tus.handle(request, response);
  });
  front.listen(0, '127.0.0.1');
  await once(front, 'listening');
  closer.add({
    close: async () => {
      front.closeAllConnections();
      front.close();
      await once(front, 'close');
    },
  });
  return { url: `http://127.0.0.1:${(front.address() as AddressInfo).port}/files`, server };
}

async function expectStoredExactly(server: TusTestServer, upload: BufferedHttpWritable): Promise<void> {
  const stored = await server.stored(upload.uploadUrl!);
  expect(stored.sha256).toBe(sha256(data));
  expect(stored.length).toBe(data.length);
  expect(upload.bytesAcknowledged).toBe(data.length);
}

describe('cut after N bytes', () => {
  test('HEAD then resend from the server offset: completes exactly', async () => {
    const { url, server, proxy } = await tusThroughProxy({ kind: 'pass' });
    proxy.cutAt([200 * KiB, 500 * KiB]);
    const upload = new BufferedHttpWritable(url, { mode: 'tus', highWaterMark, retry: fast });
    const { error } = await runUpload(upload, chunks);
    expect(error).toBeUndefined();
    expect(proxy.faults).toBe(2);
    expect(server.requests.filter((request) => request.method === 'HEAD').length).toBeGreaterThanOrEqual(1);
    await expectStoredExactly(server, upload);
  });

  test('cut on every connection after creation: NetworkError with the offset and upload URL to resume from', async () => {
    const { url, server, proxy } = await tusThroughProxy({ kind: 'pass' });
    const upload = new BufferedHttpWritable(url, { mode: 'tus', highWaterMark, retry: { ...fast, limit: 2 } });
    upload.write(data.subarray(0, highWaterMark));
    await upload.flush();
    proxy.setFault({ kind: 'cut', afterBytes: 0 });
    proxy.dropConnections();
    const { error, finished } = await runUpload(upload, [data.subarray(highWaterMark)]);
    expect(finished).toBe(false);
    expect(error).toBeInstanceOf(NetworkError);
    expect(error).toMatchObject({ code: 'ERR_BHW_NETWORK', offset: highWaterMark, uploadUrl: upload.uploadUrl, bytesAcknowledged: highWaterMark });
    expect((await server.stored(upload.uploadUrl!)).offset).toBe(highWaterMark);
  });
});

describe('reset', () => {
  test('HEAD then resend: completes exactly', async () => {
    const { url, server, proxy } = await tusThroughProxy({ kind: 'pass' });
    proxy.cutAt([150 * KiB, 420 * KiB, 700 * KiB], 'reset');
    const upload = new BufferedHttpWritable(url, { mode: 'tus', highWaterMark, retry: fast, contentLength: data.length });
    const { error } = await runUpload(upload, chunks);
    expect(error).toBeUndefined();
    expect(proxy.faults).toBe(3);
    await expectStoredExactly(server, upload);
  });
});

describe('stall', () => {
  test("a stalled PATCH is ended by got's socket timeout, then HEAD and resend complete the upload", async () => {
    const { url, server, proxy } = await tusThroughProxy((connection) => (connection === 0 ? { kind: 'stall', afterBytes: 300 * KiB } : { kind: 'pass' }));
    const timeouts = got.extend({ timeout: { socket: 300 } });
    const upload = new BufferedHttpWritable(url, { mode: 'tus', highWaterMark, retry: fast, got: timeouts });
    const { error } = await runUpload(upload, chunks);
    expect(error).toBeUndefined();
    expect(proxy.faults).toBe(1);
    await expectStoredExactly(server, upload);
  });
});

describe('trickle', () => {
  test('a slow link still completes, byte-exact', async () => {
    const small = pattern(40 * KiB, 9);
    const { url, server } = await tusThroughProxy({ kind: 'trickle', bytesPerSecond: 256 * KiB });
    const upload = new BufferedHttpWritable(url, { mode: 'tus', highWaterMark: 16 * KiB });
    const { error } = await runUpload(upload, chunksOf(small, [3000]));
    expect(error).toBeUndefined();
    expect((await server.stored(upload.uploadUrl!)).sha256).toBe(sha256(small));
  });
});

describe('early answer (413, 401)', () => {
  test('an early 413 to a PATCH is not retried: HttpStatusError with the offset and upload URL', async () => {
    const { url } = await tusBehind((request, response) => {
      if (request.method !== 'PATCH') return false;
      response.writeHead(413, { 'content-type': 'text/plain', 'tus-resumable': '1.0.0' });
      response.end('chunk too large');
      request.resume();
      return true;
    });
    const upload = new BufferedHttpWritable(url, { mode: 'tus', highWaterMark, retry: fast });
    const { error, finished } = await runUpload(upload, chunks);
    expect(finished).toBe(false);
    expect(error).toBeInstanceOf(HttpStatusError);
    expect(error).toMatchObject({
      code: 'ERR_BHW_HTTP_STATUS',
      statusCode: 413,
      body: 'chunk too large',
      offset: 0,
      uploadUrl: upload.uploadUrl,
      bytesAcknowledged: 0,
    });
  });

  test('a 401 to the creation request is not retried: HttpStatusError, no upload URL', async () => {
    let posts = 0;
    const { url } = await tusBehind((request, response) => {
      if (request.method !== 'POST') return false;
      posts++;
      response.writeHead(401, { 'www-authenticate': 'Bearer', 'content-type': 'text/plain' });
      response.end('token expired');
      return true;
    });
    const upload = new BufferedHttpWritable(url, { mode: 'tus', highWaterMark, retry: fast });
    const { error } = await runUpload(upload, chunks);
    expect(error).toBeInstanceOf(HttpStatusError);
    expect(error).toMatchObject({ statusCode: 401, body: 'token expired', bytesAcknowledged: 0 });
    expect(error!.uploadUrl).toBeUndefined();
    expect(posts).toBe(1);
  });
});

describe('throttled (429, 503 with Retry-After)', () => {
  test.each([429, 503])('%i with Retry-After is waited out, then HEAD and resend complete the upload', async (status) => {
    let throttled = 0;
    const { url, server } = await tusBehind((request, response) => {
      if (request.method !== 'PATCH' || throttled > 0 || Number(request.headers['upload-offset']) === 0) return false;
      throttled++;
      void readBody(request).then(() => {
        response.writeHead(status, { 'retry-after': '1', 'tus-resumable': '1.0.0' });
        response.end('slow down');
      });
      return true;
    });
    const upload = new BufferedHttpWritable(url, { mode: 'tus', highWaterMark, retry: fast });
    const { error } = await runUpload(upload, chunks);
    expect(error).toBeUndefined();
    expect(throttled).toBe(1);
    await expectStoredExactly(server, upload);
  });

  test('a Retry-After beyond retry.maxRetryAfter fails with RetryAfterError and where to resume', async () => {
    const { url } = await tusBehind((request, response) => {
      if (request.method !== 'PATCH') return false;
      void readBody(request).then(() => {
        response.writeHead(503, { 'retry-after': '600', 'tus-resumable': '1.0.0' });
        response.end('maintenance');
      });
      return true;
    });
    const upload = new BufferedHttpWritable(url, { mode: 'tus', highWaterMark, retry: { ...fast, maxRetryAfter: 1000 } });
    const { error } = await runUpload(upload, chunks);
    expect(error).toBeInstanceOf(RetryAfterError);
    expect(error).toMatchObject({ code: 'ERR_BHW_RETRY_AFTER', statusCode: 503, retryAfter: 600, offset: 0, uploadUrl: upload.uploadUrl });
  });
});

describe('server that never answers', () => {
  test("a PATCH left unanswered is ended by got's response timeout; HEAD and resend complete the upload", async () => {
    let held = 0;
    const { url, server } = await tusBehind((request) => {
      if (request.method !== 'PATCH' || held > 0) return false;
      held++;
      request.resume(); // reads the body, stores nothing, never answers
      return true;
    });
    const timeouts = got.extend({ timeout: { response: 300 } });
    const upload = new BufferedHttpWritable(url, { mode: 'tus', highWaterMark, retry: fast, got: timeouts });
    const { error } = await runUpload(upload, chunks);
    expect(error).toBeUndefined();
    expect(held).toBe(1);
    await expectStoredExactly(server, upload);
  });

  test('no answer at all: NetworkError ETIMEDOUT after the retries, with where to resume', async () => {
    const { url } = await tusBehind((request) => {
      if (request.method === 'POST') return false;
      request.resume();
      return true;
    });
    const timeouts = got.extend({ timeout: { response: 200 } });
    const upload = new BufferedHttpWritable(url, { mode: 'tus', highWaterMark, retry: { ...fast, limit: 1 }, got: timeouts });
    const { error, finished } = await runUpload(upload, chunks);
    expect(finished).toBe(false);
    expect(error).toBeInstanceOf(NetworkError);
    expect(error).toMatchObject({ code: 'ERR_BHW_NETWORK', causeCode: 'ETIMEDOUT', offset: 0, uploadUrl: upload.uploadUrl, bytesAcknowledged: 0 });
  });
});
