/**
 * nginx 1.22 as a reverse proxy, with request buffering on (nginx reads the
 * whole body, then sends it upstream with Content-Length) and off (it streams
 * the body as it comes). Every mode arrives exact.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startServer, stopAll, type RunningServer } from './harness.js';
import { startUpstreams, type Upstreams } from './servers.js';
import { DATA, boundedGot, exactInEveryMode, expectFinished, expectStreamExact, upload } from './uploads.js';

const client = boundedGot();

describe.each(['on', 'off'])('nginx, proxy_request_buffering %s', (buffering) => {
  let upstreams: Upstreams;
  let nginx: RunningServer;
  let base: string;
  beforeAll(async () => {
    upstreams = await startUpstreams();
    nginx = await startServer({
      name: 'nginx',
      config: 'nginx.conf',
      vars: { UPSTREAM: upstreams.sinkAddress, TUS_UPSTREAM: upstreams.tusAddress, REQUEST_BUFFERING: buffering },
      ports: ['PORT'],
      command: (c) => ['/usr/sbin/nginx', '-p', c.dir, '-c', c.configPath, '-e', `${c.dir}/error.log`],
    });
    base = `http://127.0.0.1:${nginx.ports.PORT}`;
  });
  afterAll(async () => {
    await stopAll();
    await upstreams?.close();
  });

  test('stream, chunked: exact', async () => {
    expectFinished(await upload(`${base}/stream`, { got: client }));
    expectStreamExact(upstreams.sink);
    // The setting took effect: buffered, nginx sends the body upstream with its length; unbuffered, chunked as it came.
    const headers = upstreams.sink.received.at(-1)!.headers;
    expect(headers['x-forwarded-proto']).toBe('http');
    if (buffering === 'on') expect(headers['content-length']).toBe(String(DATA.length));
    else expect(headers['transfer-encoding']).toBe('chunked');
  });

  exactInEveryMode(() => ({ base, upstreams, client }));
});
