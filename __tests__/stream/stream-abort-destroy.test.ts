import { afterEach, describe, expect, test } from '@jest/globals';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import { BufferedHttpWritable } from '../../lib/index.js';
import { pattern, readableOf } from '../helpers/data.js';
import { startSink, type Sink } from '../helpers/sink-server.js';
import { trackingGot } from '../helpers/tracking-got.js';

let server: Sink | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A server that accepts the request and then stops reading: the upload stalls mid-body. */
async function stallingServer(): Promise<{ sink: Sink; requestArrived: Promise<void> }> {
  let arrived!: () => void;
  const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
  const sink = await startSink((request) => {
    request.pause();
    arrived();
  });
  return { sink, requestArrived };
}

/** Writes until the upload pushes back, so a request is open and buffers are in flight. */
async function writeUntilBackpressure(upload: BufferedHttpWritable): Promise<void> {
  const chunk = pattern(64 * 1024);
  while (upload.write(chunk));
}

describe('abort through an AbortSignal', () => {
  test('ends the in-flight request with AbortError and leaves no socket or timer', async () => {
    const stalled = await stallingServer();
    server = stalled.sink;
    const timers = (): number => process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length;
    const timersBefore = timers();
    const tracking = trackingGot();
    const controller = new AbortController();
    const upload = new BufferedHttpWritable(server.url, { highWaterMark: 256 * 1024, signal: controller.signal, got: tracking.got });
    await writeUntilBackpressure(upload);
    await stalled.requestArrived;

    const failure = pipeline(readableOf([]), upload).catch((error: Error) => error);
    controller.abort();
    const error = await failure;
    expect(error).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    await tracking.allClosed();
    expect(tracking.sockets.length).toBe(1);
    expect(tracking.sockets.every((socket) => socket.destroyed)).toBe(true);
    expect(upload.destroyed).toBe(true);
    expect(timers()).toBeLessThanOrEqual(timersBefore);
  });

  test('a signal aborted before construction fails at once', async () => {
    server = await startSink();
    const upload = new BufferedHttpWritable(server.url, { signal: AbortSignal.abort() });
    const [error] = (await once(upload, 'error')) as [Error];
    expect(error).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    expect(server.requestCount).toBe(0);
  });
});

describe('destroy()', () => {
  test('ends the in-flight request and closes its socket', async () => {
    const stalled = await stallingServer();
    server = stalled.sink;
    const tracking = trackingGot();
    const upload = new BufferedHttpWritable(server.url, { highWaterMark: 256 * 1024, got: tracking.got });
    await writeUntilBackpressure(upload);
    await stalled.requestArrived;
    upload.destroy();
    await once(upload, 'close');
    await tracking.allClosed();
    expect(tracking.sockets.every((socket) => socket.destroyed)).toBe(true);
  });

  test('destroy(error) passes the error on and rejects a pending flush()', async () => {
    server = await startSink();
    const upload = new BufferedHttpWritable(server.url, { highWaterMark: 1024 });
    upload.cork();
    upload.write('abc');
    const flushed = upload.flush();
    const errored = once(upload, 'error');
    upload.destroy(new Error('stop'));
    await expect(flushed).rejects.toThrow('stop');
    const [error] = (await errored) as [Error];
    expect(error.message).toBe('stop');
  });
});
