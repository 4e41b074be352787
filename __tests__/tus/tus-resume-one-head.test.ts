import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import got from 'got';
import { BufferedHttpWritable, fetchTusOffset, uploadFile } from '../../lib/index.js';
import { pattern } from '../helpers/data.js';
import { sha256 } from '../helpers/sink-server.js';
import { uploadPartly as uploadTusPartly } from '../helpers/tus-partly.js';
import { startTusServer, type TusTestServer } from '../helpers/tus-server.js';

const KiB = 1024;
const highWaterMark = 64 * KiB;
/** Marks the resumed run's requests, so the first run's (a cancelled PATCH, say) are never counted. */
const RESUME = { 'x-run': 'resume' };

describe('a resumed tus upload asks the server offset once', () => {
  let server: TusTestServer;
  let dir: string;
  let file: string;
  const data = pattern(6 * highWaterMark + 321, 11);

  beforeEach(async () => {
    server = await startTusServer();
    dir = await mkdtemp(join(tmpdir(), 'bhw-one-head-'));
    file = join(dir, 'source.bin');
    await writeFile(file, data);
  });
  afterEach(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Uploads the file until the server acknowledged at least `stopAt` bytes, then aborts; returns the upload URL. */
  function uploadPartly(stopAt: number, options: { contentLength?: number } = {}): Promise<string> {
    return uploadTusPartly(server.url, file, stopAt, { highWaterMark, readSize: 16 * KiB, ...options });
  }

  /** The methods of the resumed run's requests, in order. */
  function resumedMethods(): string[] {
    return server.requests.filter((request) => request.headers['x-run'] === 'resume').map((request) => request.method);
  }

  /** The methods sent before the first PATCH. */
  function beforeFirstPatch(methods: string[]): string[] {
    const first = methods.indexOf('PATCH');
    return first === -1 ? methods : methods.slice(0, first);
  }

  test.each([
    ['deferred length', {}],
    ['known length', { contentLength: data.length }],
  ])('uploadFile with uploadUrl, %s: one HEAD, then PATCHes; the stored upload is exact', async (_label, options) => {
    const uploadUrl = await uploadPartly(2 * highWaterMark, options);

    const result = await uploadFile(file, server.url, { mode: 'tus', highWaterMark, uploadUrl, headers: RESUME });

    const methods = resumedMethods();
    expect(beforeFirstPatch(methods)).toEqual(['HEAD']);
    expect(methods.filter((method) => method === 'HEAD')).toHaveLength(1);
    expect(result.startOffset).toBeGreaterThanOrEqual(2 * highWaterMark);
    expect(result.bytesAcknowledged).toBe(data.length - result.startOffset);
    expect(result.response?.statusCode).toBe(204);
    const stored = await server.stored(uploadUrl);
    expect(stored.offset).toBe(data.length);
    expect(stored.length).toBe(data.length);
    expect(stored.sha256).toBe(sha256(data));
  });

  test('uploadFile with uploadUrl of a finished upload: no PATCH, and the answer of a HEAD is the response', async () => {
    const first = await uploadFile(file, server.url, { mode: 'tus', highWaterMark });
    const uploadUrl = first.uploadUrl!;

    const result = await uploadFile(file, server.url, { mode: 'tus', highWaterMark, uploadUrl, headers: RESUME });

    // The offset asked first, then at the end the server's own word that it holds the whole upload.
    expect(resumedMethods()).toEqual(['HEAD', 'HEAD']);
    expect(result).toMatchObject({ startOffset: data.length, bytesWritten: 0, bytesAcknowledged: 0 });
    expect(result.response?.statusCode).toBe(200);
    expect(result.response?.headers['upload-offset']).toBe(String(data.length));
    expect((await server.stored(uploadUrl)).sha256).toBe(sha256(data));
  });

  test('uploadFile given resumeFrom asks no HEAD of its own', async () => {
    const uploadUrl = await uploadPartly(2 * highWaterMark, { contentLength: data.length });
    const resumeFrom = await fetchTusOffset(uploadUrl);

    const result = await uploadFile(file, server.url, { mode: 'tus', highWaterMark, uploadUrl, resumeFrom, headers: RESUME });

    expect(resumedMethods().every((method) => method === 'PATCH')).toBe(true);
    expect(result.startOffset).toBe(resumeFrom.offset);
    expect((await server.stored(uploadUrl)).sha256).toBe(sha256(data));
  });

  test('BufferedHttpWritable given resumeFrom: one HEAD in all, the stored upload is exact', async () => {
    const uploadUrl = await uploadPartly(2 * highWaterMark);
    const resumeFrom = await fetchTusOffset(uploadUrl, { headers: RESUME });

    const second = new BufferedHttpWritable(server.url, { mode: 'tus', highWaterMark, uploadUrl, resumeFrom, headers: RESUME });
    await pipeline(createReadStream(file, { start: resumeFrom.offset }), second);

    expect(beforeFirstPatch(resumedMethods())).toEqual(['HEAD']);
    expect(resumedMethods().filter((method) => method === 'HEAD')).toHaveLength(1);
    const stored = await server.stored(uploadUrl);
    expect(stored.length).toBe(data.length);
    expect(stored.sha256).toBe(sha256(data));
  });

  test('a resumeFrom one buffer behind the server: the server offset is the end of the first buffer, recovered after the 409, exact', async () => {
    const uploadUrl = await uploadPartly(2 * highWaterMark, { contentLength: data.length });
    const { offset } = await fetchTusOffset(uploadUrl);

    const stale = { offset: offset - highWaterMark, length: data.length };
    const second = new BufferedHttpWritable(server.url, { mode: 'tus', highWaterMark, uploadUrl, resumeFrom: stale, headers: RESUME });
    await pipeline(createReadStream(file, { start: stale.offset }), second);

    expect(resumedMethods().slice(0, 3)).toEqual(['PATCH', 'HEAD', 'PATCH']);
    expect((await server.stored(uploadUrl)).sha256).toBe(sha256(data));
  });

  test('a resumeFrom the server is past by more than the first buffer: ResumeGapError, never a guess', async () => {
    const uploadUrl = await uploadPartly(2 * highWaterMark, { contentLength: data.length });
    const { offset } = await fetchTusOffset(uploadUrl);

    const stale = { offset: offset - 2 * highWaterMark, length: data.length };
    const second = new BufferedHttpWritable(server.url, { mode: 'tus', highWaterMark, uploadUrl, resumeFrom: stale });
    await expect(pipeline(createReadStream(file, { start: stale.offset }), second)).rejects.toMatchObject({ code: 'ERR_BHW_RESUME_GAP', offset });
    expect((await server.stored(uploadUrl)).sha256).toBe(sha256(data.subarray(0, offset)));
  });

  test('the server offset moved between the HEAD and the first PATCH: the 409 is recovered with a HEAD, and the upload is exact', async () => {
    const uploadUrl = await uploadPartly(2 * highWaterMark, { contentLength: data.length });
    // Another client stores 1000 more bytes of the same file just before our first PATCH leaves.
    let moved = false;
    const racing = got.extend({
      hooks: {
        beforeRequest: [
          async (options) => {
            if (moved || options.method !== 'PATCH') return;
            moved = true;
            const offset = Number((await got.head(uploadUrl, { headers: { 'tus-resumable': '1.0.0' } })).headers['upload-offset']);
            await got.patch(uploadUrl, {
              headers: { 'tus-resumable': '1.0.0', 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' },
              body: data.subarray(offset, offset + 1000),
            });
          },
        ],
      },
    });

    const result = await uploadFile(file, server.url, { mode: 'tus', highWaterMark, uploadUrl, headers: RESUME, got: racing });

    expect(moved).toBe(true);
    const methods = resumedMethods();
    expect(beforeFirstPatch(methods)).toEqual(['HEAD']);
    // The stale PATCH (409), the HEAD that learns the new offset, then the rest.
    expect(methods.slice(1, 3)).toEqual(['PATCH', 'HEAD']);
    // The other client's 1000 bytes were this upload's bytes too: acknowledged as the HEAD found them.
    expect(result.bytesAcknowledged).toBe(data.length - result.startOffset);
    const stored = await server.stored(uploadUrl);
    expect(stored.offset).toBe(data.length);
    expect(stored.sha256).toBe(sha256(data));
  });
});
