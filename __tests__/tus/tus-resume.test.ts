import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { uploadResumable } from '../../examples/resumable-upload.js';
import { BufferedHttpWritable, fetchTusOffset, type BufferedHttpWritableError } from '../../lib/index.js';
import { pattern } from '../helpers/data.js';
import { sha256 } from '../helpers/sink-server.js';
import { uploadPartly as uploadTusPartly } from '../helpers/tus-partly.js';
import { startTusServer, type TusTestServer } from '../helpers/tus-server.js';

const MiB = 1024 * 1024;
const highWaterMark = 256 * 1024;

describe('a tus upload resumed by a second uploader', () => {
  let server: TusTestServer;
  let dir: string;
  let file: string;
  const data = pattern(3 * MiB + 12_345);
  beforeEach(async () => {
    server = await startTusServer();
    dir = await mkdtemp(join(tmpdir(), 'bhw-resume-'));
    file = join(dir, 'source.bin');
    await writeFile(file, data);
  });
  afterEach(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Uploads the file until the server acknowledged at least `stopAt` bytes, then aborts; returns the upload URL. */
  function uploadPartly(stopAt: number, options: { contentLength?: number } = {}): Promise<string> {
    return uploadTusPartly(server.url, file, stopAt, { highWaterMark, readSize: 64 * 1024, ...options });
  }

  test.each([
    ['deferred length', {}],
    ['known length (contentLength is the whole upload in both)', { contentLength: data.length }],
  ])('%s: the second uploader reads the source from the server offset and completes it exactly', async (_label, options) => {
    const uploadUrl = await uploadPartly(MiB, options);
    const { offset, length } = await fetchTusOffset(uploadUrl);
    expect(offset).toBeGreaterThanOrEqual(MiB);
    expect(offset).toBeLessThan(data.length);
    expect(length).toBe('contentLength' in options ? data.length : undefined);

    const second = new BufferedHttpWritable(server.url, { mode: 'tus', highWaterMark, uploadUrl, ...options });
    await pipeline(createReadStream(file, { start: offset }), second);

    const stored = await server.stored(uploadUrl);
    expect(stored.sha256).toBe(sha256(data));
    expect(stored.length).toBe(data.length);
    expect(server.created).toHaveLength(1);
    // Counters are this writable's: the bytes it was given, from the offset on.
    expect(second.bytesWritten).toBe(data.length - offset);
    expect(second.bytesAcknowledged).toBe(data.length - offset);
    expect(second.uploadUrl).toBe(uploadUrl);
  });

  test('resuming from the wrong place, past the length the server holds, fails with ERR_BHW_CONTENT_LENGTH', async () => {
    const uploadUrl = await uploadPartly(MiB, { contentLength: data.length });
    const second = new BufferedHttpWritable(server.url, { mode: 'tus', highWaterMark, uploadUrl });
    // The whole file again instead of the part from the offset on.
    await expect(pipeline(createReadStream(file), second)).rejects.toMatchObject({ code: 'ERR_BHW_CONTENT_LENGTH', expected: data.length });
    expect((await server.stored(uploadUrl)).offset).toBeLessThan(data.length);
  });

  test('resuming short of the length the server holds fails with ERR_BHW_CONTENT_LENGTH', async () => {
    const uploadUrl = await uploadPartly(MiB, { contentLength: data.length });
    const { offset } = await fetchTusOffset(uploadUrl);
    const second = new BufferedHttpWritable(server.url, { mode: 'tus', highWaterMark, uploadUrl });
    await expect(pipeline(createReadStream(file, { start: offset, end: data.length - 2 }), second)).rejects.toMatchObject({ code: 'ERR_BHW_CONTENT_LENGTH' });
  });

  test('a contentLength that differs from the server length fails with ERR_BHW_PROTOCOL', async () => {
    const uploadUrl = await uploadPartly(MiB, { contentLength: data.length });
    const second = new BufferedHttpWritable(server.url, { mode: 'tus', highWaterMark, uploadUrl, contentLength: data.length + 1 });
    second.end(Buffer.alloc(10));
    const error = await new Promise<BufferedHttpWritableError>((resolve) => second.on('error', resolve));
    expect(error.code).toBe('ERR_BHW_PROTOCOL');
    expect(error.uploadUrl).toBe(uploadUrl);
  });

  test('fetchTusOffset of an unknown upload fails with the status', async () => {
    await expect(fetchTusOffset(`${server.url}/nope`)).rejects.toMatchObject({ code: 'ERR_BHW_HTTP_STATUS', statusCode: 404, uploadUrl: `${server.url}/nope` });
  });

  test('the resumable-upload example uploads a file and continues one', async () => {
    const whole = await uploadResumable(file, server.url, { highWaterMark });
    expect((await server.stored(whole)).sha256).toBe(sha256(data));

    const uploadUrl = await uploadPartly(MiB, { contentLength: data.length });
    expect(await uploadResumable(file, server.url, { highWaterMark, resume: uploadUrl })).toBe(uploadUrl);
    expect((await server.stored(uploadUrl)).sha256).toBe(sha256(data));
  });
});
