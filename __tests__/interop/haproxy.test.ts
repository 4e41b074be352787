/**
 * HAProxy 2.6 as a reverse proxy, with and without `option http-buffer-request`
 * (HAProxy waits for the body, up to its buffer, before it picks a server).
 * Every mode arrives exact.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startServer, stopAll } from './harness.js';
import { startUpstreams, type Upstreams } from './servers.js';
import { boundedGot, exactInEveryMode, expectFinished, expectStreamExact, upload } from './uploads.js';

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

  exactInEveryMode(() => ({ base, upstreams, client }));
});
