import { afterEach, describe, expect, test } from '@jest/globals';
import { pipeline } from 'node:stream/promises';
import { BufferedHttpWritable, type BatchReport } from '../../lib/index.js';
import { ndjsonLines, randomFaults, startBatchServer, type BatchServer } from '../helpers/batch-server.js';
import { readableOf } from '../helpers/data.js';

describe("compress: 'gzip'", () => {
  let server: BatchServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  test.each([1, 3])('batches decompress to the exact input and Batch-Offset counts uncompressed bytes (concurrency %i, with faults)', async (concurrency) => {
    server = await startBatchServer(randomFaults(21 + concurrency));
    const highWaterMark = 4096;
    const lines = ndjsonLines(800, 3, { longEvery: 100, longLine: highWaterMark });
    const input = Buffer.from(lines.join(''));
    const upload = new BufferedHttpWritable(server.url, { mode: 'batch', highWaterMark, concurrency, compress: 'gzip', retry: { limit: 6, backoffLimit: 5 } });
    const reports: BatchReport[] = [];
    upload.on('batch', (report) => reports.push(report));

    await pipeline(readableOf(lines), upload);

    expect(server.assembled().equals(input)).toBe(true);
    expect(server.mismatches).toBe(0);
    let offset = 0;
    for (const batch of server.ordered()) {
      expect(batch.headers['content-encoding']).toBe('gzip');
      // Content-Length is the compressed size; the offset is in uncompressed bytes.
      expect(Number(batch.headers['content-length'])).toBe(batch.wire.length);
      expect(batch.wire.length).toBeLessThan(batch.body.length);
      expect(batch.offset).toBe(offset);
      offset += batch.body.length;
    }
    // Sizes and progress count what was written, not what went on the wire.
    expect(reports.reduce((total, report) => total + report.size, 0)).toBe(input.length);
    expect(upload.progress).toMatchObject({ bytesWritten: input.length, bytesSent: input.length, bytesAcknowledged: input.length });
  });
});
