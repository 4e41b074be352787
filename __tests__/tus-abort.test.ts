import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { once } from 'node:events';
import { EVENTS } from '@tus/server';
import { BufferedHttpWritable } from '../lib/index.js';
import { chunksOf, pattern } from './helpers/data.js';
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy.js';
import { startSink } from './helpers/sink-server.js';
import { trackingGot } from './helpers/tracking-got.js';
import { startTusServer, type TusTestServer } from './helpers/tus-server.js';

const MiB = 1024 * 1024;

/** Resolves with the stream's error once it has closed. */
async function closedWithError(upload: BufferedHttpWritable): Promise<Error> {
  const [error] = (await once(upload, 'error')) as [Error];
  if (!upload.closed) await once(upload, 'close');
  return error;
}

describe('aborting a tus upload', () => {
  let server: TusTestServer;
  let proxy: FaultProxy;
  beforeEach(async () => {
    server = await startTusServer();
    // Every connection stalls after 1.5 MiB: the second PATCH hangs half sent.
    proxy = await startFaultProxy(server.url, { fault: { kind: 'stall', afterBytes: 1.5 * MiB } });
  });
  afterEach(async () => {
    await proxy.close();
    await server.close();
  });

  /** Starts a 4 MiB upload and aborts it once the server is receiving its second PATCH. */
  async function abortMidPatch(options: { deleteOnAbort?: boolean } = {}): Promise<{ upload: BufferedHttpWritable; error: Error; tracking: ReturnType<typeof trackingGot> }> {
    // keepAlive: an agent that would keep sockets: the aborted PATCH's must close anyway.
    // (Not with DELETE, whose finished socket the agent may rightly keep for later.)
    const tracking = trackingGot({ keepAlive: !options.deleteOnAbort });
    const controller = new AbortController();
    const upload = new BufferedHttpWritable(proxy.url(server.url), { mode: 'tus', highWaterMark: MiB, signal: controller.signal, got: tracking.got, ...options });
    server.http.on('request', (request) => {
      if (request.method === 'PATCH' && request.headers['upload-offset'] !== '0') controller.abort();
    });
    for (const chunk of chunksOf(pattern(4 * MiB), [256 * 1024])) upload.write(chunk);
    upload.end();
    const error = await closedWithError(upload);
    return { upload, error, tracking };
  }

  test('ends the in-flight PATCH, leaves no socket open and keeps the upload on the server', async () => {
    const { upload, error, tracking } = await abortMidPatch();
    expect(error.name).toBe('AbortError');
    await tracking.allClosed();
    await proxy.idle();
    expect(await server.exists(upload.uploadUrl!)).toBe(true);
    expect(server.terminated).toEqual([]);
    expect(server.requests.map((request) => request.method)).toEqual(['POST', 'PATCH', 'PATCH']);
  });

  test('with deleteOnAbort, terminates the upload (tus DELETE)', async () => {
    const terminated = once(server.tus, EVENTS.POST_TERMINATE);
    const { upload, error, tracking } = await abortMidPatch({ deleteOnAbort: true });
    expect(error.name).toBe('AbortError');
    await terminated;
    expect(await server.exists(upload.uploadUrl!)).toBe(false);
    await tracking.allClosed();
  });

  test('a finished upload is never deleted, whatever deleteOnAbort says', async () => {
    const upload = new BufferedHttpWritable(server.url, { mode: 'tus', deleteOnAbort: true });
    upload.end('small');
    await once(upload, 'close');
    expect(upload.destroyed).toBe(true);
    expect(server.requests.map((request) => request.method)).toEqual(['POST', 'PATCH']);
    expect((await server.stored(upload.uploadUrl!)).offset).toBe(5);
  });
});

test('aborting during the backoff before a retry leaves no timer behind', async () => {
  const timersBefore = process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;
  const controller = new AbortController();
  const sink = await startSink((request, response) => {
    if (request.method === 'POST') response.writeHead(201, { location: '/files/1' }).end();
    // Asks for a 50 s pause: only an abort that clears the timer lets this test end.
    else response.writeHead(503, { 'retry-after': '50' }).end();
    return undefined;
  });
  try {
    const tracking = trackingGot();
    const got = tracking.got.extend({
      hooks: {
        afterResponse: [
          (response) => {
            // One turn later the transport is waiting out the Retry-After.
            if (response.statusCode === 503) setImmediate(() => controller.abort());
            return response;
          },
        ],
      },
    });
    const upload = new BufferedHttpWritable(sink.url, { mode: 'tus', signal: controller.signal, got });
    upload.end('x');
    const error = await closedWithError(upload);
    expect(error.name).toBe('AbortError');
    await tracking.allClosed();
    expect(process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length).toBe(timersBefore);
  } finally {
    await sink.close();
  }
});
