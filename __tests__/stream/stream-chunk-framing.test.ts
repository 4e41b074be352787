import { afterEach, beforeEach, describe, expect, jest, test } from '@jest/globals';
import { pipeline } from 'node:stream/promises';
import { BufferPool } from '../../lib/core/buffer-pool.js';
import { BufferedHttpWritable } from '../../lib/index.js';
import { startWireServer, type WireServer } from '../helpers/chunked-wire-server.js';
import { chunksOf, pattern, readableOf } from '../helpers/data.js';
import { sha256 } from '../helpers/sink-server.js';

describe('stream mode: every flushed buffer is one HTTP chunk on the wire', () => {
  let wire: WireServer;
  beforeEach(async () => {
    wire = await startWireServer();
  });
  afterEach(async () => {
    await wire.close();
    jest.restoreAllMocks();
  });

  test('small writes become chunks of exactly highWaterMark, then the rest', async () => {
    const data = pattern(3500);
    const upload = new BufferedHttpWritable(wire.url, { highWaterMark: 1000 });
    await pipeline(readableOf(chunksOf(data, [1, 7, 37])), upload);

    expect(wire.requests).toHaveLength(1);
    const [request] = wire.requests;
    expect(request!.head).toMatch(/^transfer-encoding: chunked$/im);
    expect(request!.head).not.toMatch(/^content-length:/im);
    expect(request!.chunkSizes).toEqual([1000, 1000, 1000, 500]);
    expect(request!.sha256).toBe(sha256(data));
  });

  test('flush() cuts a chunk short', async () => {
    const upload = new BufferedHttpWritable(wire.url, { highWaterMark: 1000 });
    upload.write(Buffer.alloc(300, 1));
    await upload.flush();
    expect(upload.bytesSent).toBe(300);
    upload.write(Buffer.alloc(1500, 2));
    upload.end();
    await new Promise((resolve, reject) => upload.on('finish', resolve).on('error', reject));
    expect(wire.requests[0]!.chunkSizes).toEqual([300, 1500]);
  });

  test('a write of highWaterMark or more goes out as it is, after what was buffered', async () => {
    const data = pattern(100 + 5000 + 20);
    const upload = new BufferedHttpWritable(wire.url, { highWaterMark: 1000 });
    await pipeline(readableOf([data.subarray(0, 100), data.subarray(100, 5100), data.subarray(5100)]), upload);
    expect(wire.requests[0]!.chunkSizes).toEqual([100, 5000, 20]);
    expect(wire.requests[0]!.sha256).toBe(sha256(data));
  });

  test('writes larger than highWaterMark never touch the pool: nothing is copied', async () => {
    const acquire = jest.spyOn(BufferPool.prototype, 'acquire');
    const data = pattern(4004);
    const upload = new BufferedHttpWritable(wire.url, { highWaterMark: 1000 });
    await pipeline(readableOf(chunksOf(data, [1001])), upload);
    expect(acquire).not.toHaveBeenCalled();
    expect(wire.requests[0]!.chunkSizes).toEqual([1001, 1001, 1001, 1001]);
    expect(wire.requests[0]!.sha256).toBe(sha256(data));
  });

  test('an empty upload sends only the terminating chunk', async () => {
    const upload = new BufferedHttpWritable(wire.url, { highWaterMark: 1000 });
    upload.end();
    await new Promise((resolve, reject) => upload.on('finish', resolve).on('error', reject));
    expect(wire.requests).toHaveLength(1);
    expect(wire.requests[0]!.chunkSizes).toEqual([]);
  });
});
