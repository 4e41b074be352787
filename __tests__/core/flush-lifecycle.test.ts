import { afterEach, describe, expect, test } from '@jest/globals';
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BufferedHttpWritable } from '../../lib/index.js';
import { recordAndAnswer, startSink, type Sink } from '../helpers/sink-server.js';

let server: Sink | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/**
 * A sink that holds its answer to the first request until `release()`; later
 * requests are answered at once (`status` for the held one).
 */
async function holdingSink(status = 200): Promise<{ sink: Sink; firstArrived: Promise<void>; release(): void }> {
  let arrived!: () => void;
  const firstArrived = new Promise<void>((resolve) => (arrived = resolve));
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const sink = await startSink((request: IncomingMessage, response: ServerResponse, s: Sink) => {
    if (s.requestCount > 1) return 'default';
    arrived();
    void released.then(() => recordAndAnswer(request, response, s, status));
  });
  return { sink, firstArrived, release };
}

describe('flush() once the stream is over', () => {
  test('after destroy() it rejects at once', async () => {
    const upload = new BufferedHttpWritable('http://127.0.0.1:9/upload');
    upload.destroy();
    await expect(upload.flush()).rejects.toThrow('flush() after the stream was destroyed');
  });

  test('after destroy(error) it rejects with that error', async () => {
    const upload = new BufferedHttpWritable('http://127.0.0.1:9/upload');
    upload.on('error', () => {});
    const reason = new Error('caller gave up');
    upload.destroy(reason);
    await expect(upload.flush()).rejects.toBe(reason);
  });

  test("after end() it resolves with 'finish', once the server answered", async () => {
    server = await startSink();
    const upload = new BufferedHttpWritable(server.url, { highWaterMark: 16 });
    upload.end('all of it');
    await upload.flush();
    expect(upload.writableFinished).toBe(true);
    expect(server.received.map((request) => request.body.toString())).toEqual(['all of it']);
  });
});

describe('flush() while the only transport slot is busy', () => {
  test('waits for the slot, then sends and resolves once the server acknowledged', async () => {
    const held = await holdingSink();
    server = held.sink;
    const upload = new BufferedHttpWritable(server.url, { mode: 'batch', highWaterMark: 64 });
    upload.write('first');
    const first = upload.flush();
    await held.firstArrived;
    upload.write('second');
    const second = upload.flush();
    held.release();
    await Promise.all([first, second]);
    expect(server.received.map((request) => request.body.toString())).toEqual(['first', 'second']);
    upload.end();
    await once(upload, 'finish');
  });

  test('destroy() meanwhile rejects the waiting flush() and sends nothing more', async () => {
    const held = await holdingSink();
    server = held.sink;
    const upload = new BufferedHttpWritable(server.url, { mode: 'batch', highWaterMark: 64 });
    const errors: Error[] = [];
    upload.on('error', (error) => errors.push(error));
    upload.write('first');
    const first = upload.flush();
    await held.firstArrived;
    upload.write('second');
    // The stream is idle, so flush() hands its marker to _write at once: it now waits for the slot.
    const second = upload.flush();
    upload.destroy();
    await expect(second).rejects.toMatchObject({ code: 'ERR_STREAM_DESTROYED' });
    await expect(first).rejects.toThrow();
    held.release();
    await once(upload, 'close');
    expect(errors).toEqual([]);
    expect(server.requestCount).toBe(1);
  });

  test('a failure of the batch in flight rejects the waiting flush() with that failure', async () => {
    const held = await holdingSink(400);
    server = held.sink;
    const upload = new BufferedHttpWritable(server.url, { mode: 'batch', highWaterMark: 64 });
    const errored = once(upload, 'error');
    upload.write('first');
    const first = upload.flush();
    await held.firstArrived;
    upload.write('second');
    const second = upload.flush();
    held.release();
    const [error] = (await errored) as [Error & { statusCode?: number }];
    expect(error.statusCode).toBe(400);
    await expect(first).rejects.toBe(error);
    await expect(second).rejects.toBe(error);
    expect(server.requestCount).toBe(1);
  });
});
