import { afterEach, describe, expect, test } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DiagnosticsChannels,
  type BatchRetriedMessage,
  type UploadErrorMessage,
  type UploadFinishMessage,
  type UploadStartMessage,
} from '../../lib/diagnostics.js';
import { BufferedHttpWritable, HttpStatusError, uploadFile } from '../../lib/index.js';
import { collectUploadMetrics, formatMetrics } from '../../examples/metrics-from-diagnostics.js';
import { startBatchServer } from '../helpers/batch-server.js';
import { startCapacityServer } from '../helpers/capacity-server.js';
import { recordChannels } from '../helpers/channels.js';
import { pattern } from '../helpers/data.js';
import { Closer, runUpload } from '../helpers/outcome.js';
import { startSink } from '../helpers/sink-server.js';
import { startTusServer } from '../helpers/tus-server.js';

/**
 * The diagnostics channels as the library publishes them: upload start,
 * finish and error in every mode (once each, in that order), the batch
 * channels per attempt and per answer, and the metrics example fed by them.
 */

const closer = new Closer();
afterEach(() => closer.closeAll());

const data = pattern(10_000, 5);
const chunks = Array.from({ length: 10 }, (_, index) => data.subarray(index * 1000, (index + 1) * 1000));

describe('upload channels in every mode', () => {
  test.each(['stream', 'batch', 'tus'] as const)('%s: start at the first request, finish with the final status, nothing else', async (mode) => {
    const target = mode === 'tus' ? closer.add(await startTusServer()) : closer.add(await startSink());
    const url = new URL(target.url);
    url.username = 'user';
    url.password = 'secret-password';
    const upload = new BufferedHttpWritable(url, { mode, highWaterMark: 4096 });
    const channels = recordChannels((each) => each === upload);
    const { error } = await runUpload(upload, chunks);
    channels.stop();
    expect(error).toBeUndefined();

    const upload_ = channels.messages.filter((each) => each.channel.startsWith('buffered-http-writable:upload:'));
    expect(upload_.map((each) => each.channel)).toEqual([DiagnosticsChannels.uploadStart, DiagnosticsChannels.uploadFinish]);
    const start = upload_[0]!.message as unknown as UploadStartMessage;
    expect(start).toMatchObject({ upload, mode, concurrency: 1 });
    expect(start.url).not.toContain('secret-password');
    const finish = upload_[1]!.message as unknown as UploadFinishMessage;
    expect(finish).toMatchObject({
      upload,
      mode,
      statusCode: upload.response!.statusCode,
      progress: { bytesWritten: data.length, bytesAcknowledged: data.length },
    });
    if (mode === 'batch') {
      // Writes stay whole in batch mode: 4 writes of 1000 bytes per 4096-byte buffer.
      // Start precedes the first batch; finish follows the last acknowledgement.
      expect(channels.messages[0]!.channel).toBe(DiagnosticsChannels.uploadStart);
      expect(channels.messages.at(-2)!.channel).toBe(DiagnosticsChannels.batchAcknowledged);
      expect(channels.of(DiagnosticsChannels.batchSent)).toHaveLength(3);
      expect(channels.of(DiagnosticsChannels.batchAcknowledged)).toHaveLength(3);
    }
  });

  test('an empty batch upload makes no request: no start, a finish without a status', async () => {
    const sink = closer.add(await startSink());
    const upload = new BufferedHttpWritable(sink.url, { mode: 'batch' });
    const channels = recordChannels((each) => each === upload);
    await runUpload(upload, []);
    channels.stop();
    expect(channels.messages.map((each) => each.channel)).toEqual([DiagnosticsChannels.uploadFinish]);
    expect(channels.messages[0]!.message).not.toHaveProperty('statusCode');
    expect(sink.requestCount).toBe(0);
  });

  test("a failure publishes upload:error once, with the error 'error' carries, and no finish", async () => {
    const sink = closer.add(
      await startSink((request, response) => {
        request.resume();
        response.writeHead(401).end('no');
      }),
    );
    const upload = new BufferedHttpWritable(sink.url, { mode: 'batch', highWaterMark: 4096, concurrency: 2 });
    const channels = recordChannels((each) => each === upload);
    const { error } = await runUpload(upload, chunks);
    channels.stop();
    expect(error).toBeInstanceOf(HttpStatusError);
    const errors = channels.of<UploadErrorMessage>(DiagnosticsChannels.uploadError);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message.error).toBe(error);
    expect(errors[0]!.message).toMatchObject({ mode: 'batch', progress: { bytesAcknowledged: 0 } });
    expect(channels.of(DiagnosticsChannels.uploadFinish)).toHaveLength(0);
  });

  test('destroy() before the end publishes upload:error once', async () => {
    const sink = closer.add(await startSink());
    const upload = new BufferedHttpWritable(sink.url, { mode: 'stream', highWaterMark: 4096 });
    const channels = recordChannels((each) => each === upload);
    const errors: Error[] = [];
    upload.on('error', (error) => errors.push(error));
    upload.write(data);
    upload.destroy(new Error('changed my mind'));
    await new Promise((resolve) => upload.once('close', resolve));
    expect(errors.map((error) => error.message)).toEqual(['changed my mind']);
    channels.stop();
    expect(channels.of<UploadErrorMessage>(DiagnosticsChannels.uploadError).map((each) => each.message.error.message)).toEqual(['changed my mind']);
  });

  test('uploadFile publishes the same channels, naming the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bhw-diag-'));
    closer.add({ close: () => rm(dir, { recursive: true, force: true }) });
    const path = join(dir, 'data.bin');
    await writeFile(path, data);
    const sink = closer.add(await startSink());
    const channels = recordChannels((each) => (each as { uploadFile?: unknown } | undefined)?.uploadFile === path);
    await uploadFile(path, sink.url, { mode: 'batch', highWaterMark: 4096 });
    channels.stop();
    expect(channels.messages[0]).toMatchObject({ channel: DiagnosticsChannels.uploadStart, message: { upload: { uploadFile: path }, mode: 'batch' } });
    expect(channels.messages.at(-1)).toMatchObject({ channel: DiagnosticsChannels.uploadFinish });
  });
});

describe('batch channels', () => {
  test("a 500 is retried with reason 'failure' and its status; acknowledged reports the attempts", async () => {
    const server = closer.add(
      await startBatchServer(({ sequence, attempt }) => (sequence === 1 && attempt === 1 ? { kind: 'status', status: 500, body: 'oops' } : { kind: 'ok' })),
    );
    const upload = new BufferedHttpWritable(server.url, { mode: 'batch', highWaterMark: 4096, retry: { backoffLimit: 5 } });
    const channels = recordChannels((each) => each === upload);
    const { error } = await runUpload(upload, chunks);
    channels.stop();
    expect(error).toBeUndefined();
    const retried = channels.of<BatchRetriedMessage>(DiagnosticsChannels.batchRetried).map((each) => each.message);
    expect(retried).toHaveLength(1);
    expect(retried[0]).toMatchObject({ sequence: 1, offset: 4000, size: 4000, attempt: 1, reason: 'failure', statusCode: 500 });
    expect(retried[0]).not.toHaveProperty('retryAfterMs');
    expect(retried[0]!.delayMs).toBeGreaterThanOrEqual(1);
    const acknowledged = channels.of<{ sequence: number; attempts: number }>(DiagnosticsChannels.batchAcknowledged).map((each) => each.message);
    expect(acknowledged.find((each) => each.sequence === 1)).toMatchObject({ attempts: 2 });
    const sent = channels.of<{ sequence: number; attempt: number }>(DiagnosticsChannels.batchSent).map((each) => each.message);
    expect(sent.filter((each) => each.sequence === 1).map((each) => each.attempt)).toEqual([1, 2]);
  });

  test('the metrics example counts what the channels said', async () => {
    const server = closer.add(await startCapacityServer({ maxBodyBytes: 3000 }));
    const { metrics, stop } = collectUploadMetrics();
    const upload = new BufferedHttpWritable(server.url, { mode: 'batch', highWaterMark: 4096, concurrency: 'auto', maxConcurrency: 4 });
    const { error } = await runUpload(upload, chunks);
    stop();
    expect(error).toBeUndefined();
    expect(metrics).toMatchObject({ uploadsStarted: 1, uploadsFinished: 1, uploadsFailed: 0, attemptsSent: server.requests });
    expect(metrics.splits).toBe(server.answers.get(413));
    expect(metrics.batchesAcknowledged).toBe(server.stored.size);
    expect(formatMetrics(metrics)).toContain('uploads started=1 finished=1 failed=0');
  });
});
