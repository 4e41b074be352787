import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { once } from 'node:events';
import { EVENTS } from '@tus/server';
import { BufferedHttpWritable } from '../../lib/index.js';
import { chunksOf, pattern } from '../helpers/data.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { startSink } from '../helpers/sink-server.js';
import { watchTimers } from '../helpers/timers.js';
import { trackingGot } from '../helpers/tracking-got.js';
import { startTusServer, type TusTestServer } from '../helpers/tus-server.js';

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
  async function abortMidPatch(
    options: { deleteOnAbort?: boolean } = {},
  ): Promise<{ upload: BufferedHttpWritable; error: Error; tracking: ReturnType<typeof trackingGot> }> {
    // keepAlive: an agent that would keep sockets: the aborted PATCH's must close anyway.
    // (Not with DELETE, whose finished socket the agent may rightly keep for later.)
    const tracking = trackingGot({ keepAlive: !options.deleteOnAbort });
    const controller = new AbortController();
    const upload = new BufferedHttpWritable(proxy.url(server.url), {
      mode: 'tus',
      highWaterMark: MiB,
      signal: controller.signal,
      got: tracking.got,
      ...options,
    });
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
    // The abort says where to resume, as every tus error does.
    expect(error).toMatchObject({ uploadUrl: upload.uploadUrl, offset: MiB });
    expect((await server.stored(upload.uploadUrl!)).offset).toBe(MiB);
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

  test("destroy() with the caller's own error: it gains uploadUrl and offset, keeping its own fields", async () => {
    const upload = new BufferedHttpWritable(server.url, { mode: 'tus', highWaterMark: 1024 });
    upload.write(pattern(1000));
    await upload.flush();
    const mine = Object.assign(new Error('stop'), { offset: 'mine' });
    upload.destroy(mine);
    expect(await closedWithError(upload)).toBe(mine);
    expect(mine).toMatchObject({ uploadUrl: upload.uploadUrl, offset: 'mine' });
    expect((await server.stored(upload.uploadUrl!)).offset).toBe(1000);
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
  const controller = new AbortController();
  const sink = await startSink((request, response) => {
    if (request.method === 'POST') response.writeHead(201, { location: '/files/1' }).end();
    // Asks for a 50 s pause: the timer the transport arms for it must go with the abort.
    else response.writeHead(503, { 'retry-after': '50' }).end();
    return undefined;
  });
  // Only the timers armed in this test are counted: a process-wide count also
  // sees timers of earlier tests' servers, which fire in the middle of this one.
  const timers = watchTimers();
  try {
    const tracking = trackingGot();
    // Aborts once the transport has armed its timer for the Retry-After: it is waiting out the backoff.
    void timers.armed((ms) => ms === 50_000).then(() => controller.abort());
    const upload = new BufferedHttpWritable(sink.url, { mode: 'tus', signal: controller.signal, got: tracking.got });
    upload.end('x');
    const error = await closedWithError(upload);
    expect(error.name).toBe('AbortError');
    expect(error).toMatchObject({ uploadUrl: `${sink.url}/files/1`, offset: 0 });
    await tracking.allClosed();
    expect(timers.pending()).toEqual([]);
    // POST and the refused PATCH: no HEAD and no resend after the abort.
    expect(sink.requestCount).toBe(2);
  } finally {
    timers.restore();
    await sink.close();
  }
});
