/**
 * squid 5 as a forward proxy, used the way the README recommends: hpagent's
 * `HttpProxyAgent` (a CONNECT tunnel per connection) in got's `agent`
 * option, keep-alive on. Every mode exact, and the sink counts one request
 * per stream upload and per batch (no request head sent twice; FACTS.md:
 * http-proxy-agent with keep-alive does that).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HttpProxyAgent } from 'hpagent';
import { throughProxy } from '../../lib/index.js';
import { startServer, stopAll, type RunningServer } from './harness.js';
import { startUpstreams, type Upstreams } from './servers.js';
import { DATA, boundedGot, expectBatchesExact, expectFinished, expectStreamExact, expectTusExact, upload } from './uploads.js';

let upstreams: Upstreams;
let squid: RunningServer;
let agent: HttpProxyAgent;
let client: ReturnType<typeof boundedGot>;
let tunnelsOpened = 0;

beforeAll(async () => {
  upstreams = await startUpstreams();
  squid = await startServer({
    name: 'squid',
    config: 'squid.conf',
    ports: ['PORT'],
    // -N: no daemon; -d1: errors on stderr as well as in cache.log.
    command: (c) => ['/usr/sbin/squid', '-N', '-d1', '-f', c.configPath],
  });
  agent = new HttpProxyAgent({ keepAlive: true, maxSockets: 8, proxy: `http://127.0.0.1:${squid.ports.PORT}` });
  // Counts the tunnels the agent opens (one CONNECT to squid each).
  const createConnection = agent.createConnection.bind(agent);
  agent.createConnection = ((...args: Parameters<typeof createConnection>) => {
    tunnelsOpened++;
    return createConnection(...args);
  }) as typeof agent.createConnection;
  client = boundedGot({ agent: { http: agent } });
});
afterAll(async () => {
  agent?.destroy();
  await stopAll();
  await upstreams?.close();
});

/** CONNECT tunnels squid logged so far (it logs one when the tunnel closes). */
function tunnelsLogged(): number {
  return readFileSync(join(squid.dir, 'access.log'), 'utf8')
    .split('\n')
    .filter((line) => line.includes(' CONNECT 127.0.0.1:')).length;
}

describe('squid forward proxy through hpagent, keep-alive on', () => {
  test('stream, chunked: exact, one request at the sink', async () => {
    const before = upstreams.sink.requestCount;
    expectFinished(await upload(`${upstreams.sink.url}/stream`, { got: client }));
    expectStreamExact(upstreams.sink);
    expect(upstreams.sink.requestCount - before).toBe(1);
  });

  test('stream with contentLength: exact, one request at the sink', async () => {
    const before = upstreams.sink.requestCount;
    expectFinished(await upload(`${upstreams.sink.url}/sized`, { got: client, contentLength: DATA.length }));
    expectStreamExact(upstreams.sink);
    expect(upstreams.sink.requestCount - before).toBe(1);
  });

  test.each([1, 4])('batch, concurrency %i: every batch exact, one request per batch at the sink', async (concurrency) => {
    upstreams.sink.received.length = 0;
    const before = upstreams.sink.requestCount;
    const outcome = await upload(`${upstreams.sink.url}/batch`, { got: client, mode: 'batch', concurrency });
    expectFinished(outcome);
    expectBatchesExact(upstreams.sink);
    expect(upstreams.sink.requestCount - before).toBe(outcome.upload.progress.batchesAcknowledged);
  });

  test('tus to @tus/server: exact', async () => {
    const outcome = await upload(upstreams.tus.url, { got: client, mode: 'tus' });
    expectFinished(outcome);
    await expectTusExact(upstreams.tus, outcome.upload.uploadUrl);
  });

  test('every request went through squid, over reused tunnels', async () => {
    expect(tunnelsOpened).toBeGreaterThan(0);
    // Keep-alive reused the tunnels: fewer of them than requests.
    expect(tunnelsOpened).toBeLessThan(upstreams.sink.requestCount + upstreams.tus.requests.length);
    agent.destroy();
    // squid logs a tunnel once it closes: poll its log, a bounded number of times.
    for (let poll = 0; poll < 100 && tunnelsLogged() < tunnelsOpened; poll++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(tunnelsLogged()).toBe(tunnelsOpened);
  });
});

/*
 * The library's `throughProxy`: http targets in absolute form over kept-alive
 * connections to squid (what the CLI does). FACTS.md: http-proxy-agent with
 * keep-alive sent a request head twice on a reused socket through squid; here
 * the sink must count exactly one request per upload and per batch.
 */
describe('squid forward proxy through throughProxy (absolute form, keep-alive)', () => {
  let proxied: ReturnType<typeof boundedGot>;
  beforeAll(() => {
    proxied = throughProxy(boundedGot(), { http: new URL(`http://127.0.0.1:${squid.ports.PORT}`) });
  });

  /** Absolute-form requests squid logged (`POST http://…`), as opposed to CONNECT tunnels. */
  function forwardedLogged(): number {
    return readFileSync(join(squid.dir, 'access.log'), 'utf8')
      .split('\n')
      .filter((line) => / (POST|PATCH|HEAD) http:\/\/127\.0\.0\.1:/.test(line)).length;
  }

  test('stream, chunked: exact, one request at the sink, logged by squid as a forwarded request', async () => {
    const before = upstreams.sink.requestCount;
    const logged = forwardedLogged();
    expectFinished(await upload(`${upstreams.sink.url}/stream`, { got: proxied }));
    expectStreamExact(upstreams.sink);
    expect(upstreams.sink.requestCount - before).toBe(1);
    expect(forwardedLogged() - logged).toBe(1);
  });

  test.each([1, 4])('batch, concurrency %i: every batch exact, one request per batch on reused connections', async (concurrency) => {
    upstreams.sink.received.length = 0;
    const before = upstreams.sink.requestCount;
    const outcome = await upload(`${upstreams.sink.url}/batch`, { got: proxied, mode: 'batch', concurrency });
    expectFinished(outcome);
    expectBatchesExact(upstreams.sink);
    expect(upstreams.sink.requestCount - before).toBe(outcome.upload.progress.batchesAcknowledged);
  });

  test('tus to @tus/server: exact', async () => {
    const outcome = await upload(upstreams.tus.url, { got: proxied, mode: 'tus' });
    expectFinished(outcome);
    await expectTusExact(upstreams.tus, outcome.upload.uploadUrl);
  });
});
