import { afterEach, describe, expect, jest, test } from '@jest/globals';
import { once } from 'node:events';
import { constructed } from '../helpers/constructed.js';
import { BufferedHttpWritable } from '../../lib/index.js';
import { pattern } from '../helpers/data.js';
import { readBody, sha256, startSink, type Sink } from '../helpers/sink-server.js';

let server: Sink | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  jest.restoreAllMocks();
});

describe('backpressure against a server that stops reading', () => {
  test('write() returns false while only the two pool buffers are ever allocated', async () => {
    const highWaterMark = 65_537; // an odd size, so the pool's allocations are easy to tell apart
    let resumeReading!: () => void;
    const reading = new Promise<void>((resolve) => (resumeReading = resolve));
    let received = '';
    server = await startSink((request, response) => {
      request.pause();
      void reading.then(async () => {
        const body = await readBody(request);
        received = sha256(body);
        response.end();
      });
    });
    const allocations = jest.spyOn(Buffer, 'allocUnsafeSlow');
    const upload = new BufferedHttpWritable(server.url, { highWaterMark });
    const poolAllocations = (): number => allocations.mock.calls.filter(([size]) => size === highWaterMark).length;
    await constructed(upload); // the pool is made with the transport
    expect(poolAllocations()).toBe(2);

    const chunk = pattern(10_000);
    const written: Buffer[] = [];
    // Keep writing until the stream pushes back; the kernel's socket buffers take some megabytes first.
    for (;;) {
      written.push(chunk);
      if (!upload.write(chunk)) break;
      if (written.length % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    expect(upload.writableNeedDrain).toBe(true);
    // What waits in memory is bounded by the stream's own queue (highWaterMark) plus the pool.
    expect(upload.writableLength).toBeLessThanOrEqual(highWaterMark + chunk.length);
    expect(upload.bytesWritten - upload.bytesSent).toBeLessThanOrEqual(2 * highWaterMark);

    resumeReading();
    await once(upload, 'drain');
    upload.end();
    await once(upload, 'finish');
    expect(received).toBe(sha256(Buffer.concat(written)));
    expect(poolAllocations()).toBe(2);
  });
});
