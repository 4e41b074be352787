import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { pipeline } from 'node:stream/promises';
import { BufferedHttpWritable, ContentLengthError } from '../../lib/index.js';
import { startWireServer, type WireServer } from '../helpers/chunked-wire-server.js';
import { chunksOf, pattern, readableOf } from '../helpers/data.js';
import { sha256, startSink, type Sink } from '../helpers/sink-server.js';
import { trackingGot } from '../helpers/tracking-got.js';

describe('contentLength sends a sized body instead of chunks', () => {
  let wire: WireServer;
  beforeEach(async () => {
    wire = await startWireServer();
  });
  afterEach(async () => {
    await wire.close();
  });

  test('exact length: Content-Length header, no chunked framing, exact bytes', async () => {
    const data = pattern(10_000);
    const upload = new BufferedHttpWritable(wire.url, { highWaterMark: 1024, contentLength: data.length });
    await pipeline(readableOf(chunksOf(data, [333])), upload);
    const [request] = wire.requests;
    expect(request!.head).toMatch(/^content-length: 10000$/im);
    expect(request!.head).not.toMatch(/^transfer-encoding:/im);
    expect(request!.sha256).toBe(sha256(data));
    expect(upload.bytesAcknowledged).toBe(10_000);
  });

  test('zero length', async () => {
    const upload = new BufferedHttpWritable(wire.url, { contentLength: 0 });
    upload.end();
    await new Promise((resolve, reject) => upload.on('finish', resolve).on('error', reject));
    expect(wire.requests[0]!.head).toMatch(/^content-length: 0$/im);
  });
});

describe('a contentLength mismatch fails, never hangs and never sends extra bytes', () => {
  let sink: Sink;
  let receivedBytes = 0;
  let completeBodies = 0;
  beforeEach(async () => {
    receivedBytes = 0;
    completeBodies = 0;
    sink = await startSink((request) => {
      request.on('data', (chunk: Buffer) => (receivedBytes += chunk.length));
      request.on('end', () => completeBodies++);
    });
  });
  afterEach(async () => {
    await sink.close();
  });

  test('writing past it fails at that write', async () => {
    const tracking = trackingGot();
    const upload = new BufferedHttpWritable(sink.url, { highWaterMark: 100, contentLength: 250, got: tracking.got });
    const error = await pipeline(readableOf([pattern(200), pattern(40), pattern(20)]), upload).catch((e: Error) => e);
    expect(error).toBeInstanceOf(ContentLengthError);
    expect(error).toMatchObject({ code: 'ERR_BHW_CONTENT_LENGTH', expected: 250, actual: 260, bytesWritten: 240 });
    await tracking.allClosed();
    expect(completeBodies).toBe(0);
    expect(receivedBytes).toBeLessThanOrEqual(250);
  });

  test('ending short of it fails in final', async () => {
    const tracking = trackingGot();
    const upload = new BufferedHttpWritable(sink.url, { highWaterMark: 100, contentLength: 1000, got: tracking.got });
    const error = await pipeline(readableOf([pattern(300)]), upload).catch((e: Error) => e);
    expect(error).toMatchObject({ code: 'ERR_BHW_CONTENT_LENGTH', expected: 1000, actual: 300 });
    expect(error!.message).toMatch(/short of contentLength 1000/);
    await tracking.allClosed();
    // The request was cut before its declared length: the server never saw a complete body.
    expect(completeBodies).toBe(0);
    expect(receivedBytes).toBeLessThanOrEqual(300);
  });
});
