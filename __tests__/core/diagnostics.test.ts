import { afterEach, describe, expect, test } from '@jest/globals';
import diagnosticsChannel from 'node:diagnostics_channel';
import { AdaptiveConcurrency } from '../../lib/http/adaptive-concurrency.js';
import type { BufferedHttpWritable } from '../../lib/buffered-http-writable.js';
import { splitBatch } from '../../lib/modes/batch/split.js';
import {
  DiagnosticsChannels,
  publishBatchAcknowledged,
  publishBatchRetried,
  publishBatchSent,
  publishBatchSplit,
  publishConcurrencyChanged,
  publishUploadError,
  publishUploadFinish,
  publishUploadStart,
  type BatchIdentity,
  type DiagnosticsChannelName,
} from '../../lib/diagnostics.js';

import { manualClock } from '../helpers/manual-clock.js';
import type { ProgressSnapshot } from '../../lib/types.js';

/** Stands in for the writable: the helpers only pass it along. */
const upload = { name: 'upload-under-test' } as unknown as BufferedHttpWritable;
const snapshot: ProgressSnapshot = { bytesWritten: 300, bytesSent: 300, bytesAcknowledged: 200, batchesSent: 3, batchesAcknowledged: 2 };

/** A batch record whose fields count how often they are read. */
function countedBatch(): { batch: BatchIdentity; reads: () => number } {
  let reads = 0;
  const values = { sequence: 4, offset: 400, size: 100, key: 'abc-4' };
  const batch = {} as BatchIdentity;
  for (const [name, value] of Object.entries(values)) {
    Object.defineProperty(batch, name, { get: () => (reads++, value), enumerable: true });
  }
  return { batch, reads: () => reads };
}

/** Progress whose snapshot() counts its calls. */
function countedProgress(): { progress: { snapshot(): ProgressSnapshot }; calls: () => number } {
  let calls = 0;
  return { progress: { snapshot: () => (calls++, { ...snapshot }) }, calls: () => calls };
}

describe('diagnostics channels', () => {
  const subscriptions: Array<[DiagnosticsChannelName, (message: unknown) => void]> = [];
  afterEach(() => {
    for (const [name, listener] of subscriptions.splice(0)) diagnosticsChannel.unsubscribe(name, listener);
  });

  /** Collects the messages of one channel until the test ends. */
  function listen(name: DiagnosticsChannelName): unknown[] {
    const messages: unknown[] = [];
    const listener = (message: unknown): void => {
      messages.push(message);
    };
    diagnosticsChannel.subscribe(name, listener);
    subscriptions.push([name, listener]);
    return messages;
  }

  test('names follow undici: <package>:<subject>:<event>', () => {
    expect(Object.values(DiagnosticsChannels)).toEqual([
      'buffered-http-writable:upload:start',
      'buffered-http-writable:upload:finish',
      'buffered-http-writable:upload:error',
      'buffered-http-writable:batch:sent',
      'buffered-http-writable:batch:acknowledged',
      'buffered-http-writable:batch:retried',
      'buffered-http-writable:request:retried',
      'buffered-http-writable:batch:split',
      'buffered-http-writable:concurrency:changed',
    ]);
  });

  describe('without subscribers nothing is built', () => {
    test('no batch field is read and no progress snapshot is taken', () => {
      for (const name of Object.values(DiagnosticsChannels)) expect(diagnosticsChannel.channel(name).hasSubscribers).toBe(false);
      const { batch, reads } = countedBatch();
      const { progress, calls } = countedProgress();
      publishUploadStart(upload, 'batch', 'http://example.test/', 'auto');
      publishUploadFinish(upload, 'batch', progress, 200);
      publishUploadError(upload, 'batch', new Error('x'), progress);
      publishBatchSent(upload, batch, 1, 100, 4, 2);
      publishBatchAcknowledged(upload, batch, 200, 1, 12);
      publishBatchRetried(upload, batch, 1, 'overload', { statusCode: 429 }, 1000, 1000);
      const halves = splitBatch({ bytes: Buffer.alloc(100), offset: 400, sequence: 4, key: 'abc-4', records: [50, 50] })!;
      publishBatchSplit(upload, batch, 413, halves);
      publishConcurrencyChanged(upload, { limit: 2, previous: 1, reason: 'increase' });
      expect(reads()).toBe(0);
      expect(calls()).toBe(0);
    });

    test('a subscriber on one channel does not make the others build messages', () => {
      listen(DiagnosticsChannels.batchAcknowledged);
      const { batch, reads } = countedBatch();
      publishBatchSent(upload, batch, 1, 100, 4, 2);
      expect(reads()).toBe(0);
    });
  });

  describe('with subscribers, each channel carries its documented message', () => {
    test('upload:start, upload:finish and upload:error', () => {
      const starts = listen(DiagnosticsChannels.uploadStart);
      const finishes = listen(DiagnosticsChannels.uploadFinish);
      const errors = listen(DiagnosticsChannels.uploadError);
      const { progress } = countedProgress();
      const error = new Error('boom');
      publishUploadStart(upload, 'tus', 'https://example.test/files', 1);
      publishUploadFinish(upload, 'batch', progress, undefined);
      publishUploadFinish(upload, 'stream', progress, 201);
      publishUploadError(upload, 'batch', error, progress);
      expect(starts).toEqual([{ upload, mode: 'tus', url: 'https://example.test/files', concurrency: 1 }]);
      expect(finishes).toEqual([
        { upload, mode: 'batch', progress: snapshot },
        { upload, mode: 'stream', progress: snapshot, statusCode: 201 },
      ]);
      expect(errors).toEqual([{ upload, mode: 'batch', error, progress: snapshot }]);
    });

    test('batch:sent, batch:acknowledged and batch:retried', () => {
      const sent = listen(DiagnosticsChannels.batchSent);
      const acknowledged = listen(DiagnosticsChannels.batchAcknowledged);
      const retried = listen(DiagnosticsChannels.batchRetried);
      const { batch } = countedBatch();
      const identity = { sequence: 4, offset: 400, size: 100, key: 'abc-4' };
      publishBatchSent(upload, batch, 2, 61, 4, 3);
      publishBatchAcknowledged(upload, batch, 201, 2, 12.5);
      publishBatchRetried(upload, batch, 1, 'overload', { statusCode: 429 }, 2000, 2000);
      publishBatchRetried(upload, batch, 2, 'failure', { code: 'ECONNRESET' }, 734, undefined);
      expect(sent).toEqual([{ upload, ...identity, attempt: 2, bodySize: 61, limit: 4, inFlight: 3 }]);
      expect(acknowledged).toEqual([{ upload, ...identity, statusCode: 201, attempts: 2, rttMs: 12.5 }]);
      expect(retried).toEqual([
        { upload, ...identity, attempt: 1, reason: 'overload', statusCode: 429, delayMs: 2000, retryAfterMs: 2000 },
        { upload, ...identity, attempt: 2, reason: 'failure', code: 'ECONNRESET', delayMs: 734 },
      ]);
    });

    test('batch:split names both halves', () => {
      const splits = listen(DiagnosticsChannels.batchSplit);
      const parent = { bytes: Buffer.alloc(100), offset: 400, sequence: 4, key: 'abc-4', records: [30, 30, 40] };
      publishBatchSplit(upload, { sequence: 4, offset: 400, size: 100, key: 'abc-4' }, 413, splitBatch(parent)!);
      expect(splits).toEqual([
        {
          upload,
          sequence: 4,
          offset: 400,
          size: 100,
          key: 'abc-4',
          statusCode: 413,
          pieces: [
            { offset: 400, size: 60, key: 'abc-4.0' },
            { offset: 460, size: 40, key: 'abc-4.1' },
          ],
        },
      ]);
    });

    test('concurrency:changed carries what the controller reports', () => {
      const changes = listen(DiagnosticsChannels.concurrencyChanged);
      const clock = manualClock();
      const limiter = new AdaptiveConcurrency({ max: 4, now: clock.now, onChange: (change) => publishConcurrencyChanged(upload, change) });
      for (let round = 0; round < 2; round++) {
        const token = limiter.started();
        clock.advance(10);
        limiter.finished(token, { kind: 'ok', rttMs: 10 });
      }
      const token = limiter.started();
      clock.advance(1);
      limiter.finished(token, { kind: 'overload' });
      expect(changes).toEqual([
        { upload, limit: 2, previous: 1, reason: 'slow-start', rttMs: 10 },
        { upload, limit: 1, previous: 2, reason: 'overload', baselineRttMs: 10 },
      ]);
    });

    test('a message is a copy: changing it does not reach the caller’s objects', () => {
      const sent = listen(DiagnosticsChannels.batchSent) as Array<Record<string, unknown>>;
      const batch = { sequence: 1, offset: 0, size: 10, key: 'k-1' };
      publishBatchSent(upload, batch, 1, 10, 1, 1);
      sent[0]!.offset = 999;
      expect(batch.offset).toBe(0);
    });
  });
});
