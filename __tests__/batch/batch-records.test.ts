import { afterEach, describe, expect, test } from '@jest/globals';
import { finished, pipeline } from 'node:stream/promises';
import { BufferedHttpWritable } from '../../lib/index.js';
import { ndjsonLines, randomFaults, startBatchServer, type BatchServer } from '../helpers/batch-server.js';
import { pattern, readableOf } from '../helpers/data.js';

describe('batch mode keeps records whole', () => {
  let server: BatchServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  test.each([1, 3])('every NDJSON batch ends on a record boundary (concurrency %i, with faults)', async (concurrency) => {
    server = await startBatchServer(randomFaults(11));
    const highWaterMark = 2048;
    const lines = ndjsonLines(600, 7, { longEvery: 50, longLine: highWaterMark });
    const upload = new BufferedHttpWritable(server.url, { mode: 'batch', highWaterMark, concurrency, retry: { limit: 6, backoffLimit: 5 } });

    await pipeline(readableOf(lines), upload);

    expect(server.assembled().toString('utf8')).toBe(lines.join(''));
    const records = new Set(lines);
    for (const batch of server.ordered()) {
      const text = batch.body.toString('utf8');
      expect(text.endsWith('\n')).toBe(true);
      const batchLines = text
        .slice(0, -1)
        .split('\n')
        .map((line) => `${line}\n`);
      // Each batch parses on its own: whole records only.
      for (const line of batchLines) expect(records.has(line)).toBe(true);
      // Over highWaterMark only when one record is that long, and then it is alone.
      if (batch.body.length > highWaterMark) expect(batchLines).toHaveLength(1);
    }
    expect(server.maxInFlight).toBeLessThanOrEqual(concurrency);
  });

  test('a write larger than highWaterMark travels alone', async () => {
    server = await startBatchServer();
    const highWaterMark = 1000;
    const small = pattern(10, 1);
    const big = pattern(3 * highWaterMark + 5, 2);
    const tail = pattern(20, 3);
    const upload = new BufferedHttpWritable(server.url, { mode: 'batch', highWaterMark });

    await pipeline(readableOf([small, big, tail]), upload);

    expect(server.ordered().map((batch) => batch.body)).toEqual([small, big, tail]);
    expect(server.ordered().map((batch) => batch.offset)).toEqual([0, 10, 10 + big.length]);
  });

  test('a write that does not fit closes the current batch first', async () => {
    server = await startBatchServer();
    const upload = new BufferedHttpWritable(server.url, { mode: 'batch', highWaterMark: 10 });
    await pipeline(readableOf(['aaaa\n', 'bbbb\n', 'cccc\n', 'dd\n', 'eeeeeeeee\n']), upload);
    expect(server.ordered().map((batch) => batch.body.toString())).toEqual(['aaaa\nbbbb\n', 'cccc\ndd\n', 'eeeeeeeee\n']);
  });
});

describe('never more than `concurrency` batches in flight', () => {
  let server: BatchServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  test.each([1, 2, 4])('concurrency %i, against a server that holds its answers', async (concurrency) => {
    server = await startBatchServer();
    server.paused = true;
    const upload = new BufferedHttpWritable(server.url, { mode: 'batch', highWaterMark: 1000, concurrency });
    const done = pipeline(readableOf(Array.from({ length: 40 }, (_value, index) => pattern(250, index))), upload);

    // The client fills every slot while no answer comes...
    const target = server;
    await target.waitFor(() => target.inFlight === concurrency);
    // ...and by then has also filled the one spare buffer, and stops.
    expect(upload.bytesWritten).toBeLessThanOrEqual((concurrency + 2) * 1000);
    target.resume();
    await done;

    expect(server.maxInFlight).toBe(concurrency);
    expect(server.stored.size).toBe(10);
  });
});

describe('flushInterval and flush()', () => {
  let server: BatchServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  test('flushInterval ships a partial batch without further writes', async () => {
    server = await startBatchServer();
    const target = server;
    const upload = new BufferedHttpWritable(server.url, { mode: 'batch', highWaterMark: 1 << 20, flushInterval: 5 });

    upload.write('{"event":"first"}\n');
    await target.waitFor(() => target.stored.size === 1);
    expect(target.ordered()[0]!.body.toString()).toBe('{"event":"first"}\n');

    upload.write('{"event":"second"}\n');
    upload.write('{"event":"third"}\n');
    await target.waitFor(() => target.stored.size === 2);
    expect(target.ordered()[1]!.body.toString()).toBe('{"event":"second"}\n{"event":"third"}\n');
    expect(target.ordered()[1]!.offset).toBe(18);

    // Ending leaves no timer behind: jest would not exit otherwise.
    upload.end();
    await finished(upload);
    expect(target.stored.size).toBe(2);
    expect(upload.bytesAcknowledged).toBe(18 + 37);
  });

  test('flush() resolves once the partial batch is acknowledged', async () => {
    server = await startBatchServer();
    const upload = new BufferedHttpWritable(server.url, { mode: 'batch', highWaterMark: 1 << 20 });
    upload.write('one\n');
    upload.write('two\n');
    await upload.flush();
    expect(server.stored.size).toBe(1);
    expect(upload.bytesAcknowledged).toBe(8);
    upload.end('three\n');
    await finished(upload);
    expect(server.assembled().toString()).toBe('one\ntwo\nthree\n');
  });
});
