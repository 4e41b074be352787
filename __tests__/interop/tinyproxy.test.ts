/**
 * tinyproxy 1.11 from Debian with `ConnectPort 443` (CONNECT to any other
 * port refused), the hardening that made every http upload fail while the
 * library tunnelled plain http too. Through `throughProxy`, http targets go
 * in absolute form as curl sends them: every mode exact. A CONNECT to
 * another port is a `ProxyError` with tinyproxy's status.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { ErrorCodes, ProxyError, throughProxy } from '../../lib/index.js';
import { startServer, stopAll, type RunningServer } from './harness.js';
import { startUpstreams, type Upstreams } from './servers.js';
import { boundedGot, expectBatchesExact, expectFinished, expectStreamExact, expectTusExact, upload } from './uploads.js';

let upstreams: Upstreams;
let tinyproxy: RunningServer;
let client: ReturnType<typeof boundedGot>;
let proxyUrl: string;

beforeAll(async () => {
  upstreams = await startUpstreams();
  tinyproxy = await startServer({
    name: 'tinyproxy',
    config: 'tinyproxy.conf',
    ports: ['PORT'],
    // -d: stay in the foreground.
    command: (c) => ['/usr/bin/tinyproxy', '-d', '-c', c.configPath],
  });
  proxyUrl = `http://127.0.0.1:${tinyproxy.ports.PORT}`;
  client = throughProxy(boundedGot(), { http: new URL(proxyUrl), https: new URL(proxyUrl) });
});
afterAll(async () => {
  await stopAll();
  await upstreams?.close();
});

describe('tinyproxy allowing CONNECT to 443 only', () => {
  test('stream: exact, one request at the sink', async () => {
    const before = upstreams.sink.requestCount;
    expectFinished(await upload(`${upstreams.sink.url}/stream`, { got: client }));
    expectStreamExact(upstreams.sink);
    expect(upstreams.sink.requestCount - before).toBe(1);
  });

  test('batch, concurrency 4: every batch exact, one request per batch', async () => {
    upstreams.sink.received.length = 0;
    const before = upstreams.sink.requestCount;
    const outcome = await upload(`${upstreams.sink.url}/batch`, { got: client, mode: 'batch', concurrency: 4 });
    expectFinished(outcome);
    expectBatchesExact(upstreams.sink);
    expect(upstreams.sink.requestCount - before).toBe(outcome.upload.progress.batchesAcknowledged);
  });

  test('tus to @tus/server: exact', async () => {
    const outcome = await upload(upstreams.tus.url, { got: client, mode: 'tus' });
    expectFinished(outcome);
    await expectTusExact(upstreams.tus, outcome.upload.uploadUrl);
  });

  test('an https target on another port: CONNECT refused, a ProxyError with the status, no retry', async () => {
    const outcome = await upload(`https://127.0.0.1:${upstreams.sink.url.split(':').pop()}/refused`, { got: client, mode: 'tus', retry: { limit: 2 } });
    expect(outcome.error).toBeInstanceOf(ProxyError);
    expect(outcome.error).toMatchObject({ code: ErrorCodes.PROXY, statusCode: 403, proxy: `${proxyUrl}/`, bytesSent: 0 });
    const refusals = tinyproxy.log('tinyproxy.log').match(/Refused CONNECT method on port/g) ?? [];
    expect(refusals).toHaveLength(1);
  });
});
