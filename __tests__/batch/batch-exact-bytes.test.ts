import { afterEach, describe, expect, test } from '@jest/globals';
import { pipeline } from 'node:stream/promises';
import { BufferedHttpWritable, type BatchReport, type ProgressSnapshot } from '../../lib/index.js';
import { randomFaults, startBatchServer, type BatchServer } from '../helpers/batch-server.js';
import { chunksOf, pattern, readableOf } from '../helpers/data.js';

// Retries at most a few ms apart: the suite stays fast whatever the backoff draws.
const retry = { limit: 6, backoffLimit: 5 };

describe('batch mode delivers exactly the bytes written, under faults', () => {
  let server: BatchServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  const cases: Array<[number, number]> = [
    [1, 1],
    [1, 2],
    [4, 3],
    [4, 4],
    [4, 5],
  ];

  test.each(cases)('concurrency %i, fault seed %i', async (concurrency, seed) => {
    server = await startBatchServer(randomFaults(seed));
    const highWaterMark = 4096;
    const data = pattern(150_000, seed);
    const upload = new BufferedHttpWritable(server.url, { mode: 'batch', highWaterMark, concurrency, retry });
    const reports: BatchReport[] = [];
    upload.on('batch', (report) => reports.push(report));

    await pipeline(readableOf(chunksOf(data, [1, 700, 37, highWaterMark, 5000, 3000, highWaterMark - 1])), upload);

    const batches = server.ordered();
    expect(server.assembled().equals(data)).toBe(true);
    expect(server.mismatches).toBe(0);
    // Sequences are contiguous from 0 and offsets add up.
    expect(batches.map((batch) => batch.sequence)).toEqual(batches.map((_batch, index) => index));
    let offset = 0;
    for (const batch of batches) {
      expect(batch.offset).toBe(offset);
      expect(Number(batch.headers['content-length'])).toBe(batch.body.length);
      offset += batch.body.length;
    }
    expect(server.maxInFlight).toBeLessThanOrEqual(concurrency);
    // The faults really happened (the seeds are chosen so), and were survived by retrying.
    expect(server.attempts.length).toBeGreaterThan(batches.length);

    expect(upload.bytesAcknowledged).toBe(data.length);
    expect(upload.progress).toMatchObject({
      bytesWritten: data.length,
      bytesSent: data.length,
      batchesSent: batches.length,
      batchesAcknowledged: batches.length,
    });
    expect(reports).toHaveLength(batches.length);
    for (const report of reports) {
      const attempts = server.attempts.filter((attempt) => attempt.sequence === report.sequence);
      expect(report).toEqual({
        sequence: report.sequence,
        offset: batches[report.sequence]!.offset,
        size: batches[report.sequence]!.body.length,
        statusCode: 200,
        attempts: attempts.length,
      });
    }
  });
});

describe("'progress' and 'batch' events", () => {
  let server: BatchServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  test('report every batch once and a contiguous acknowledged prefix', async () => {
    server = await startBatchServer();
    const highWaterMark = 1000;
    const data = pattern(10_500);
    const upload = new BufferedHttpWritable(server.url, { mode: 'batch', highWaterMark, concurrency: 3 });
    const progress: ProgressSnapshot[] = [];
    const reports: BatchReport[] = [];
    upload.on('progress', (snapshot) => progress.push(snapshot));
    upload.on('batch', (report) => reports.push(report));

    await pipeline(readableOf(chunksOf(data, [250])), upload);

    expect(reports.map((report) => report.sequence).sort((a, b) => a - b)).toEqual([...Array(11).keys()]);
    for (const report of reports) {
      expect(report).toEqual({
        sequence: report.sequence,
        offset: report.sequence * 1000,
        size: report.sequence === 10 ? 500 : 1000,
        statusCode: 200,
        attempts: 1,
      });
    }
    for (let i = 1; i < progress.length; i++) {
      expect(progress[i]!.bytesAcknowledged).toBeGreaterThanOrEqual(progress[i - 1]!.bytesAcknowledged);
      expect(progress[i]!.bytesAcknowledged).toBeLessThanOrEqual(progress[i]!.bytesSent);
      expect(progress[i]!.bytesAcknowledged % 1000 === 0 || progress[i]!.bytesAcknowledged === data.length).toBe(true);
    }
    expect(progress.at(-1)).toEqual({
      bytesWritten: data.length,
      bytesSent: data.length,
      bytesAcknowledged: data.length,
      batchesSent: 11,
      batchesAcknowledged: 11,
    });
    expect(upload.response?.statusCode).toBe(200);
  });

  test('an empty upload sends nothing and finishes without a response', async () => {
    server = await startBatchServer();
    const upload = new BufferedHttpWritable(server.url, { mode: 'batch' });
    await pipeline(readableOf([]), upload);
    expect(server.attempts).toHaveLength(0);
    expect(upload.response).toBeUndefined();
  });
});
