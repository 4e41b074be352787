import { once } from 'node:events';
import { afterEach, describe, expect, test } from '@jest/globals';
import { DiagnosticsChannels, type BatchSentMessage, type ConcurrencyChangedMessage } from '../../lib/diagnostics.js';
import { BufferedHttpWritable, type ProgressSnapshot } from '../../lib/index.js';
import { startCapacityServer, startQueueingServer, startRefusingServer, type CapacityServer } from '../helpers/capacity-server.js';
import { expectWholeRecords } from '../helpers/whole-records.js';
import { ndjsonLines } from '../helpers/batch-server.js';
import { recordChannels } from '../helpers/channels.js';
import { runUpload } from '../helpers/outcome.js';

/**
 * `concurrency: 'auto'` wired into batch mode, against the capacity servers.
 * What is asserted holds whatever the schedule: delivery (every record once,
 * in order by offset, none split) and implications read from the
 * `concurrency:changed` and `batch:sent` channels (a 429 means the limit went
 * past the server's capacity, and a cut followed), never durations.
 */

const lines = ndjsonLines(800, 13);
const expected = Buffer.from(lines.join(''));
/** Offsets where a record starts: the only places a batch may begin. */
const highWaterMark = 2048;
const fastRetry = { limit: 20, backoffLimit: 20 };

let server: CapacityServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("concurrency: 'auto' options", () => {
  const url = 'http://127.0.0.1:9/';

  test("'auto' starts at 1 and carries the limit on progress; a number is fixed and progress is as before", async () => {
    // The limit is the transport's, made when the stream is ready (the mode's code is loaded on first use).
    const auto = new BufferedHttpWritable(url, { mode: 'batch', concurrency: 'auto', maxConcurrency: 4 });
    await once(auto, 'ready');
    expect(auto.concurrency).toBe(1);
    expect(auto.progress).toEqual({ bytesWritten: 0, bytesSent: 0, bytesAcknowledged: 0, batchesSent: 0, batchesAcknowledged: 0, concurrency: 1 });
    const fixed = new BufferedHttpWritable(url, { mode: 'batch', concurrency: 3 });
    await once(fixed, 'ready');
    expect(fixed.concurrency).toBe(3);
    expect(fixed.progress).not.toHaveProperty('concurrency');
    const stream = new BufferedHttpWritable(url);
    await once(stream, 'ready');
    expect(stream.concurrency).toBe(1);
    for (const upload of [auto, fixed, stream]) upload.destroy();
    await Promise.all([auto, fixed, stream].map((upload) => once(upload, 'close')));
  });

  test.each([
    [
      'maxConcurrency without auto',
      { concurrency: 4, maxConcurrency: 8 },
      TypeError,
      /^maxConcurrency applies only with concurrency: 'auto' \(concurrency is 4\), received number 8$/,
    ],
    [
      'maxConcurrency with the default concurrency',
      { maxConcurrency: 8 },
      TypeError,
      /^maxConcurrency applies only with concurrency: 'auto' \(concurrency is 1\)/,
    ],
    ['another string', { concurrency: 'max' as 'auto' }, TypeError, /^concurrency must be a positive integer or 'auto', received "max"$/],
    ['maxConcurrency 0', { concurrency: 'auto' as const, maxConcurrency: 0 }, RangeError, /^maxConcurrency must be a positive integer, received 0$/],
    [
      'maxConcurrency not a number',
      { concurrency: 'auto' as const, maxConcurrency: '8' as unknown as number },
      TypeError,
      /^maxConcurrency must be a number, received "8"$/,
    ],
  ])('%s is refused at construction', (_name, options, type, message) => {
    expect(() => new BufferedHttpWritable(url, { mode: 'batch', ...options })).toThrow(type);
    expect(() => new BufferedHttpWritable(url, { mode: 'batch', ...options })).toThrow(message);
  });

  test('maxConcurrency is a batch option', () => {
    // @ts-expect-error maxConcurrency is a batch option: JavaScript callers get the same refusal at run time
    expect(() => new BufferedHttpWritable(url, { maxConcurrency: 4 })).toThrow(
      /^'maxConcurrency' does not apply to mode 'stream' \(it applies to 'batch', 's3', 'azure-blob'\)$/,
    );
  });
});

describe("concurrency: 'auto' against a server that answers 429 above its capacity", () => {
  test('every record once, in order, none split; a 429 means the limit passed capacity and a cut followed', async () => {
    const capacity = 3;
    server = await startRefusingServer(capacity, { latencyMs: 2 });
    const upload = new BufferedHttpWritable(server.url, { mode: 'batch', highWaterMark, concurrency: 'auto', maxConcurrency: 8, retry: fastRetry });
    const channels = recordChannels((each) => each === upload);
    const progress: ProgressSnapshot[] = [];
    upload.on('progress', (snapshot) => progress.push(snapshot));
    const { error } = await runUpload(upload, lines);
    channels.stop();

    expect(error).toBeUndefined();
    expectWholeRecords(server, expected, lines);
    const changes = channels.of<ConcurrencyChangedMessage>(DiagnosticsChannels.concurrencyChanged).map((each) => each.message);
    const sent = channels.of<BatchSentMessage>(DiagnosticsChannels.batchSent).map((each) => each.message);
    // The limit never leaves [1, maxConcurrency], and no attempt starts above it.
    for (const change of changes) expect(change.limit).toBeGreaterThanOrEqual(1);
    for (const change of changes) expect(change.limit).toBeLessThanOrEqual(8);
    // An attempt's slot was granted under the limit before a cut that may come between the grant
    // and its 'sent' message (a 429 answered in the same turn): the limit it started under is the
    // higher of the two.
    let before = 1;
    let current = 1;
    for (const { channel, message } of channels.messages) {
      if (channel === DiagnosticsChannels.concurrencyChanged) {
        before = current;
        current = (message as unknown as ConcurrencyChangedMessage).limit;
      } else if (channel === DiagnosticsChannels.batchSent) {
        const attempt = message as unknown as BatchSentMessage;
        expect(attempt.inFlight).toBeLessThanOrEqual(Math.max(attempt.limit, before));
      }
    }
    expect(sent.length).toBeGreaterThan(0);
    // Each change is a step from the limit before it; slow start ('slow-start') ends at the first back pressure,
    // after which the 2xx of attempts sent before the halving may raise the limit back ('confirmed').
    let limit = 1;
    let backPressure = false;
    for (const change of changes) {
      expect(change.previous).toBe(limit);
      if (change.reason === 'increase' || change.reason === 'slow-start') expect(change.limit).toBe(limit + 1);
      else if (change.reason === 'confirmed') expect([backPressure, change.limit > limit]).toEqual([true, true]);
      else expect(change.limit).toBeLessThan(limit);
      if (change.reason === 'slow-start') expect(backPressure).toBe(false);
      if (change.reason === 'overload' || change.reason === 'failure') backPressure = true;
      limit = change.limit;
    }
    expect(upload.concurrency).toBe(limit);
    expect(progress.at(-1)!.concurrency).toBe(limit);
    if (server.refused > 0) {
      // Refused means more than `capacity` were in flight: the limit had passed it, and was cut. Usually on the 429
      // ('overload'); but when the queueing RTTs cut it first ('latency'), the 429s of attempts sent before that cut
      // say nothing of the new limit and are not counted again (adaptive-concurrency.ts), as one test run saw.
      expect(Math.max(...changes.map((change) => change.limit))).toBeGreaterThan(capacity);
      expect(changes.some((change) => change.reason === 'overload' || change.reason === 'latency')).toBe(true);
    }
    // Every 429 was retried with reason 'overload'.
    const retried = channels.of<{ reason: string; statusCode?: number }>(DiagnosticsChannels.batchRetried).map((each) => each.message);
    expect(retried).toHaveLength(server.refused);
    for (const each of retried) expect(each).toMatchObject({ reason: 'overload', statusCode: 429 });
  });

  test('the limit grows from 1 while every answer is a 2xx and round trips stay flat', async () => {
    server = await startCapacityServer({ latencyMs: 3 });
    const upload = new BufferedHttpWritable(server.url, { mode: 'batch', highWaterMark: 512, concurrency: 'auto', maxConcurrency: 4 });
    const channels = recordChannels((each) => each === upload);
    const { error } = await runUpload(upload, lines);
    channels.stop();
    expect(error).toBeUndefined();
    expectWholeRecords(server, expected, lines);
    const changes = channels.of<ConcurrencyChangedMessage>(DiagnosticsChannels.concurrencyChanged).map((each) => each.message);
    // By slow start, or by windows if one answer's round trip ended it (loopback jitter).
    expect(changes.some((change) => change.reason === 'slow-start' || change.reason === 'increase')).toBe(true);
    expect(Math.max(...changes.map((change) => change.limit))).toBeGreaterThan(1);
    // The pool holds maxConcurrency + 1 buffers: never more than 4 requests at the server.
    expect(server.maxInFlight).toBeLessThanOrEqual(4);
  });
});

describe("concurrency: 'auto' against a queueing server", () => {
  test('every record once, in order, none split, and never an error', async () => {
    server = await startQueueingServer(2, { latencyMs: 2 });
    const upload = new BufferedHttpWritable(server.url, { mode: 'batch', highWaterMark, concurrency: 'auto', maxConcurrency: 8 });
    const { error } = await runUpload(upload, lines);
    expect(error).toBeUndefined();
    expectWholeRecords(server, expected, lines);
    expect([...server.answers.keys()]).toEqual([200]);
    expect(server.maxInFlight).toBeLessThanOrEqual(8);
  });
});
