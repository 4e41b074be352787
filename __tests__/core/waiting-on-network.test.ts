/**
 * `waitingOnNetwork`, on the Writable and on the promise `uploadFile`
 * returns: true while a buffer is held by the transport or an answer is
 * awaited, false while the upload only waits for its producer and once it is
 * over. Against real loopback servers that answer on the test's cue.
 */
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { constructed } from '../helpers/constructed.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BufferedHttpWritable, uploadFile } from '../../lib/index.js';
import { pattern } from '../helpers/data.js';
import { startSink, type Sink } from '../helpers/sink-server.js';

let sink: Sink | undefined;
afterEach(async () => {
  await sink?.close();
  sink = undefined;
});

/** A sink that reads each request body to its end, then waits for the test to let it answer 200. */
async function answersOnCue(): Promise<{ bodyRead(): Promise<void>; answer(): void }> {
  const bodies: Array<() => void> = [];
  const responses: ServerResponse[] = [];
  sink = await startSink((request: IncomingMessage, response: ServerResponse) => {
    request.resume();
    request.on('end', () => {
      responses.push(response);
      bodies.shift()?.();
    });
  });
  return {
    bodyRead: () => (responses.length > 0 ? Promise.resolve() : new Promise<void>((resolve) => bodies.push(resolve))),
    answer: () => responses.shift()!.writeHead(200).end('ok'),
  };
}

function finished(upload: BufferedHttpWritable): Promise<void> {
  return new Promise((resolve, reject) => {
    upload.once('finish', resolve);
    upload.once('error', reject);
  });
}

describe('BufferedHttpWritable#waitingOnNetwork', () => {
  test('stream: a buffer handed over is, a quiet producer whose bytes the socket took is not, the final answer is', async () => {
    const server = await answersOnCue();
    const upload = new BufferedHttpWritable(sink!.url, { highWaterMark: 1024 });
    const done = finished(upload);

    expect(upload.waitingOnNetwork).toBe(false);
    await constructed(upload); // the transport is made: a write reaches it at once
    upload.write(Buffer.alloc(100));
    expect(upload.waitingOnNetwork).toBe(false); // buffered: the upload waits for more writes
    upload.write(Buffer.alloc(924));
    expect(upload.waitingOnNetwork).toBe(true); // full, handed over; the connection is not even up yet
    await upload.flush(); // resolves once the socket took every buffer sent so far
    expect(upload.bytesSent).toBe(1024);
    expect(upload.waitingOnNetwork).toBe(false); // a quiet producer
    upload.end();
    expect(upload.waitingOnNetwork).toBe(true);
    await server.bodyRead();
    expect(upload.waitingOnNetwork).toBe(true); // the final answer
    server.answer();
    await done;
    expect(upload.waitingOnNetwork).toBe(false);
  });

  test('batch: a request not yet answered is; once it is answered, a quiet producer is not', async () => {
    const server = await answersOnCue();
    const upload = new BufferedHttpWritable(sink!.url, { mode: 'batch', highWaterMark: 1024 });
    const done = finished(upload);

    upload.write(Buffer.alloc(1024));
    await server.bodyRead();
    expect(upload.bytesSent).toBe(1024);
    expect(upload.waitingOnNetwork).toBe(true);
    const flushed = upload.flush(); // resolves once every batch so far is acknowledged
    server.answer();
    await flushed;
    expect(upload.waitingOnNetwork).toBe(false);
    upload.end(Buffer.alloc(10));
    expect(upload.waitingOnNetwork).toBe(true);
    await server.bodyRead();
    server.answer();
    await done;
    expect(upload.waitingOnNetwork).toBe(false);
  });

  test('a failed upload is not', async () => {
    sink = await startSink((request, response) => {
      request.resume();
      request.on('end', () => response.writeHead(500).end('no'));
    });
    const upload = new BufferedHttpWritable(sink.url, { highWaterMark: 1024 });
    const failed = new Promise<Error>((resolve) => upload.once('error', resolve));
    upload.end(Buffer.alloc(1024));

    expect(await failed).toMatchObject({ statusCode: 500 });
    expect(upload.waitingOnNetwork).toBe(false);
  });
});

describe('uploadFile(...).waitingOnNetwork', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bhw-waiting-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('stream: the final answer is waited for; once the promise settled, nothing is', async () => {
    const server = await answersOnCue();
    const file = join(dir, 'four-buffers.bin');
    await writeFile(file, pattern(4 * 1024));
    const upload = uploadFile(file, sink!.url, { highWaterMark: 1024 });

    await server.bodyRead();
    expect(upload.waitingOnNetwork).toBe(true);
    server.answer();
    expect((await upload).bytesAcknowledged).toBe(4 * 1024);
    expect(upload.waitingOnNetwork).toBe(false);
  });

  test("tus with uploadUrl: asking the server's offset is; an aborted upload is not", async () => {
    let asked!: () => void;
    const headArrived = new Promise<void>((resolve) => (asked = resolve));
    sink = await startSink((request) => {
      if (request.method === 'HEAD') asked(); // and never answered
    });
    const file = join(dir, 'data.bin');
    await writeFile(file, pattern(1024));
    const aborter = new AbortController();
    const upload = uploadFile(file, `${sink.url}/files`, { mode: 'tus', uploadUrl: `${sink.url}/files/abc`, signal: aborter.signal });

    expect(upload.waitingOnNetwork).toBe(false); // the file is being opened
    await headArrived;
    expect(upload.waitingOnNetwork).toBe(true);
    aborter.abort();
    await expect(upload).rejects.toMatchObject({ name: 'AbortError' });
    expect(upload.waitingOnNetwork).toBe(false);
  });
});
