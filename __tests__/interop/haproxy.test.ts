/**
 * HAProxy 2.6 as a reverse proxy, with and without `option http-buffer-request`
 * (HAProxy waits for the body, up to its buffer, before it picks a server).
 * Every mode arrives exact.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startServer, stopAll } from './harness.js';
import { startUpstreams, type Upstreams } from './servers.js';
import { DATA, boundedGot, expectBatchesExact, expectFinished, expectStreamExact, expectTusExact, upload } from './uploads.js';

const client = boundedGot();

describe.each([
  ['without http-buffer-request', ''],
  ['with http-buffer-request', 'option http-buffer-request'],
])('HAProxy %s', (_label, bufferRequest) => {
  let upstreams: Upstreams;
  let base: string;
  beforeAll(async () => {
    upstreams = await startUpstreams();
    const haproxy = await startServer({
      name: 'haproxy',
      config: 'haproxy.cfg',
      vars: { UPSTREAM: upstreams.sinkAddress, TUS_UPSTREAM: upstreams.tusAddress, BUFFER_REQUEST: bufferRequest },
      ports: ['PORT'],
      // -db: stay in the foreground, no daemon.
      command: (c) => ['/usr/sbin/haproxy', '-db', '-f', c.configPath],
    });
    base = `http://127.0.0.1:${haproxy.ports.PORT}`;
  });
  afterAll(async () => {
    await stopAll();
    await upstreams?.close();
  });

  test('stream, chunked: exact', async () => {
    expectFinished(await upload(`${base}/stream`, { got: client }));
    expectStreamExact(upstreams.sink);
    expect(upstreams.sink.received.at(-1)!.headers['transfer-encoding']).toBe('chunked');
  });

  test('stream with contentLength: exact', async () => {
    expectFinished(await upload(`${base}/sized`, { got: client, contentLength: DATA.length }));
    expectStreamExact(upstreams.sink);
  });

  test.each([1, 4])('batch, concurrency %i: every batch exact, sequences contiguous', async (concurrency) => {
    upstreams.sink.received.length = 0;
    expectFinished(await upload(`${base}/batch`, { got: client, mode: 'batch', concurrency }));
    expectBatchesExact(upstreams.sink);
  });

  test('tus to @tus/server: exact', async () => {
    const outcome = await upload(`${base}/files`, { got: client, mode: 'tus' });
    expectFinished(outcome);
    await expectTusExact(upstreams.tus, outcome.upload.uploadUrl);
  });
});
