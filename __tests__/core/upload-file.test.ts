import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { createHash } from 'node:crypto';
import { appendFileSync, createReadStream, openSync, closeSync, truncateSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { BufferedHttpWritable, FileChangedError, uploadFile, type ProgressSnapshot } from '../../lib/index.js';
import { startBatchServer } from '../helpers/batch-server.js';
import { pattern } from '../helpers/data.js';
import { sha256, startSink, type Sink } from '../helpers/sink-server.js';
import { startTusServer } from '../helpers/tus-server.js';

const KiB = 1024;
const highWaterMark = 64 * KiB;
let dir: string;
let sink: Sink | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bhw-upload-file-'));
});
afterEach(async () => {
  await sink?.close();
  sink = undefined;
  await rm(dir, { recursive: true, force: true });
});

async function fileOf(data: Buffer, name = 'source.bin'): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, data);
  return path;
}

describe('onRead returning a promise', () => {
  test('holds back the next read until it settles: a slow consumer of the bytes never falls behind', async () => {
    sink = await startSink();
    const data = pattern(8 * highWaterMark, 5);
    const hash = createHash('sha256');
    let pending = 0;
    let mostPending = 0;
    const result = await uploadFile(await fileOf(data), sink.url, {
      highWaterMark,
      onRead: (bytes) => {
        const copy = Buffer.from(bytes);
        pending++;
        mostPending = Math.max(mostPending, pending);
        // A consumer that takes its time (a hasher on another thread, say).
        return new Promise<void>((resolve) =>
          setTimeout(() => {
            hash.update(copy);
            pending--;
            resolve();
          }, 5),
        );
      },
    });

    expect(result.bytesAcknowledged).toBe(data.length);
    expect(hash.digest('hex')).toBe(sha256(data));
    expect(mostPending).toBe(1);
  });
});

describe('uploadFile delivers exactly the file', () => {
  test.each([
    ['empty', 0],
    ['smaller than one buffer', 1000],
    ['an exact multiple of highWaterMark', 4 * highWaterMark],
    ['not a multiple of highWaterMark', 4 * highWaterMark + 123],
  ])('stream mode, %s: Content-Length declared, one request, sha256 on the server', async (_label, size) => {
    sink = await startSink();
    const data = pattern(size, 3);
    const progress: ProgressSnapshot[] = [];
    const hash = createHash('sha256');
    const result = await uploadFile(await fileOf(data), sink.url, {
      highWaterMark,
      onProgress: (p) => progress.push(p),
      onRead: (bytes) => hash.update(bytes),
    });
    expect(hash.digest('hex')).toBe(sha256(data));
    expect(sink.received).toHaveLength(1);
    const [request] = sink.received;
    expect(request!.sha256).toBe(sha256(data));
    expect(request!.headers['content-length']).toBe(String(size));
    expect(request!.headers['transfer-encoding']).toBeUndefined();
    expect(result).toMatchObject({ bytesWritten: size, bytesSent: size, bytesAcknowledged: size, startOffset: 0 });
    expect(result.response?.statusCode).toBe(200);
    expect(progress.at(-1)).toMatchObject({ bytesAcknowledged: size });
  });

  test('stream mode with declareSize: false sends a chunked body', async () => {
    sink = await startSink();
    const data = pattern(3 * highWaterMark + 5, 4);
    await uploadFile(await fileOf(data), sink.url, { highWaterMark, declareSize: false });
    expect(sink.received[0]!.headers['transfer-encoding']).toBe('chunked');
    expect(sink.received[0]!.sha256).toBe(sha256(data));
  });

  test('batch mode: one batch per buffer, in order, reassembled exactly', async () => {
    const server = await startBatchServer();
    try {
      const data = pattern(5 * highWaterMark + 77, 5);
      const batches: number[] = [];
      const result = await uploadFile(await fileOf(data), server.url, {
        mode: 'batch',
        highWaterMark,
        concurrency: 3,
        onBatch: (report) => batches.push(report.sequence),
      });
      expect(server.assembled().equals(data)).toBe(true);
      expect(server.ordered().map((batch) => batch.sequence)).toEqual([0, 1, 2, 3, 4, 5]);
      expect(batches.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5]);
      expect(result).toMatchObject({ bytesAcknowledged: data.length, batchesAcknowledged: 6 });
    } finally {
      await server.close();
    }
  });

  test('tus mode: Upload-Length declared at creation, stored exactly', async () => {
    const server = await startTusServer();
    try {
      const data = pattern(3 * highWaterMark + 9, 6);
      const result = await uploadFile(await fileOf(data), server.url, { mode: 'tus', highWaterMark });
      const stored = await server.stored(result.uploadUrl!);
      expect(stored.sha256).toBe(sha256(data));
      const creation = server.requests.find((request) => request.method === 'POST')!;
      expect(creation.headers['upload-length']).toBe(String(data.length));
    } finally {
      await server.close();
    }
  });

  test('tus mode with uploadUrl: asks the server offset and reads on from there', async () => {
    const server = await startTusServer();
    try {
      const data = pattern(6 * highWaterMark + 321, 7);
      const path = await fileOf(data);
      // A first uploader that stops once the server holds two buffers.
      const controller = new AbortController();
      const first = new BufferedHttpWritable(server.url, { mode: 'tus', highWaterMark, contentLength: data.length, signal: controller.signal });
      first.on('progress', (progress) => {
        if (progress.bytesAcknowledged >= 2 * highWaterMark) controller.abort();
      });
      await expect(pipeline(createReadStream(path, { highWaterMark: 16 * KiB }), first)).rejects.toMatchObject({ name: 'AbortError' });
      const uploadUrl = first.uploadUrl!;

      const result = await uploadFile(path, server.url, { mode: 'tus', highWaterMark, uploadUrl });
      expect(result.startOffset).toBeGreaterThanOrEqual(2 * highWaterMark);
      expect(result.bytesWritten).toBe(data.length - result.startOffset);
      const stored = await server.stored(uploadUrl);
      expect(stored.sha256).toBe(sha256(data));
    } finally {
      await server.close();
    }
  });

  test('an open descriptor is read to its end and left open', async () => {
    sink = await startSink();
    const data = pattern(2 * highWaterMark + 1, 8);
    const fd = openSync(await fileOf(data), 'r');
    try {
      await uploadFile(fd, sink.url, { highWaterMark });
      expect(sink.received[0]!.sha256).toBe(sha256(data));
    } finally {
      closeSync(fd);
    }
  });
});

describe('a file that changes size during the upload is a clear error, never a short or long upload', () => {
  test.each([
    ['grows', (path: string) => appendFileSync(path, 'more bytes'), (size: number) => ({ expected: size, actual: size + 1 })],
    ['shrinks', (path: string) => truncateSync(path, 3 * highWaterMark), (size: number) => ({ expected: size, actual: 3 * highWaterMark })],
  ])('a file that %s', async (_label, change, figures) => {
    sink = await startSink();
    const size = 16 * highWaterMark;
    const path = await fileOf(pattern(size, 9));
    let changed = false;
    const error = await uploadFile(path, sink.url, {
      highWaterMark,
      onProgress: () => {
        // The first buffer is on the wire; the pool holds two, so most of the file is still unread.
        if (!changed) change(path);
        changed = true;
      },
    }).then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect(error).toBeInstanceOf(FileChangedError);
    expect(error).toMatchObject({ code: 'ERR_BHW_FILE_CHANGED', path, ...figures(size) });
    // The server never acknowledged a body of some other size.
    expect(sink.received).toHaveLength(0);
  });

  test('a missing file is the system error, before any request', async () => {
    sink = await startSink();
    await expect(uploadFile(join(dir, 'absent.bin'), sink.url)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(sink.requestCount).toBe(0);
  });

  test('bad options are refused as by the Writable', async () => {
    await expect(uploadFile(await fileOf(pattern(10)), 'http://127.0.0.1:9/', { concurency: 2 } as never)).rejects.toThrow(
      "Unknown option 'concurency' (did you mean 'concurrency'?)",
    );
  });

  test('an aborted signal ends the upload with AbortError', async () => {
    sink = await startSink((request) => void request.resume());
    const controller = new AbortController();
    const upload = uploadFile(await fileOf(pattern(8 * highWaterMark)), sink.url, {
      highWaterMark,
      signal: controller.signal,
      onProgress: () => controller.abort(),
    });
    await expect(upload).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
  });
});
