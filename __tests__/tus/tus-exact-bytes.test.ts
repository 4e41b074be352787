import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { pipeline } from 'node:stream/promises';
import { BufferedHttpWritable } from '../../lib/index.js';
import { chunksOf, pattern, readableOf } from '../helpers/data.js';
import { sha256 } from '../helpers/sink-server.js';
import { startTusServer, type TusTestServer } from '../helpers/tus-server.js';

describe('tus mode stores exactly the bytes written', () => {
  let server: TusTestServer;
  beforeEach(async () => {
    server = await startTusServer();
  });
  afterEach(async () => {
    await server.close();
  });

  const highWaterMark = 4096;
  const cases: Array<[string, number, number[]]> = [
    ['1-byte writes', 9_000, [1]],
    ['37-byte writes', 50_000, [37]],
    ['writes of exactly highWaterMark', highWaterMark * 5, [highWaterMark]],
    ['writes larger than highWaterMark', 100_000, [highWaterMark * 3 + 17]],
    ['mixed small and large writes', 200_000, [1, 37, highWaterMark, 5000, 0, 12_345, highWaterMark - 1, 2]],
    ['a total that is a multiple of highWaterMark', highWaterMark * 4, [1000]],
    ['less than one buffer', 100, [7]],
    ['an empty upload', 0, [1]],
  ];

  describe.each([
    ['deferred length', false],
    ['known length', true],
  ])('%s', (_label, known) => {
    test.each(cases)('%s', async (_name, total, sizes) => {
      const data = pattern(total);
      const upload = new BufferedHttpWritable(server.url, { mode: 'tus', highWaterMark, ...(known ? { contentLength: total } : {}) });
      await pipeline(readableOf(chunksOf(data, sizes)), upload);

      const stored = await server.stored(upload.uploadUrl!);
      expect(stored.sha256).toBe(sha256(data));
      expect(stored.offset).toBe(total);
      expect(stored.length).toBe(total);
      expect(upload.bytesWritten).toBe(total);
      expect(upload.bytesAcknowledged).toBe(total);
      expect(upload.progress.uploadUrl).toBe(upload.uploadUrl);
      expect(server.created).toHaveLength(1);

      const creation = server.requests.find((request) => request.method === 'POST')!;
      expect(creation.headers['tus-resumable']).toBe('1.0.0');
      if (known) expect(creation.headers['upload-length']).toBe(String(total));
      else expect(creation.headers['upload-defer-length']).toBe('1');
      const patches = server.requests.filter((request) => request.method === 'PATCH');
      // The length is declared exactly once: at creation, or on one PATCH.
      const declaring = patches.filter((request) => request.headers['upload-length'] !== undefined);
      expect(declaring).toHaveLength(known ? 0 : 1);
      for (const patch of patches) expect(patch.headers['content-type']).toBe('application/offset+octet-stream');
      expect(server.requests.filter((request) => request.method === 'HEAD')).toHaveLength(0);
    });
  });

  test('a deferred length rides on the last data PATCH when the total is not a multiple of highWaterMark', async () => {
    const data = pattern(highWaterMark * 2 + 10);
    const upload = new BufferedHttpWritable(server.url, { mode: 'tus', highWaterMark });
    await pipeline(readableOf(chunksOf(data, [1000])), upload);
    const patches = server.requests.filter((request) => request.method === 'PATCH');
    expect(patches.map((request) => [request.headers['upload-offset'], request.headers['content-length'], request.headers['upload-length']])).toEqual([
      ['0', String(highWaterMark), undefined],
      [String(highWaterMark), String(highWaterMark), undefined],
      [String(highWaterMark * 2), '10', String(data.length)],
    ]);
    expect(upload.response?.statusCode).toBe(204);
    expect(upload.response?.headers['upload-offset']).toBe(String(data.length));
  });

  test('an end() after the last buffer was acknowledged sends an empty PATCH declaring the length', async () => {
    const data = pattern(highWaterMark * 2);
    const upload = new BufferedHttpWritable(server.url, { mode: 'tus', highWaterMark });
    upload.write(data);
    await upload.flush(); // every byte is acknowledged before the writer says it is the end
    upload.end();
    await new Promise((resolve, reject) => upload.on('finish', resolve).on('error', reject));
    const patches = server.requests.filter((request) => request.method === 'PATCH');
    const last = patches.at(-1)!;
    expect(last.headers['content-length']).toBe('0');
    expect(last.headers['upload-length']).toBe(String(data.length));
    expect((await server.stored(upload.uploadUrl!)).sha256).toBe(sha256(data));
  });

  test('metadata is sent as Upload-Metadata and stored by the server', async () => {
    const metadata = { filename: 'résumé 2024.pdf', filetype: 'application/pdf', empty: '' };
    const upload = new BufferedHttpWritable(server.url, { mode: 'tus', metadata });
    await pipeline(readableOf([Buffer.from('hello')]), upload);
    const creation = server.requests.find((request) => request.method === 'POST')!;
    expect(creation.headers['upload-metadata']).toBe(
      `filename ${Buffer.from('résumé 2024.pdf').toString('base64')},filetype ${Buffer.from('application/pdf').toString('base64')},empty`,
    );
    expect((await server.stored(upload.uploadUrl!)).metadata).toEqual({ filename: 'résumé 2024.pdf', filetype: 'application/pdf', empty: null });
  });

  test('a metadata key with a space fails at construction', () => {
    expect(() => new BufferedHttpWritable(server.url, { mode: 'tus', metadata: { 'file name': 'x' } })).toThrow(TypeError);
  });

  test('a relative Location is resolved against the endpoint and reported on progress', async () => {
    await server.close();
    server = await startTusServer({ relativeLocation: true });
    const upload = new BufferedHttpWritable(server.url, { mode: 'tus' });
    const seen: Array<string | undefined> = [];
    upload.on('progress', (progress) => seen.push(progress.uploadUrl));
    await pipeline(readableOf([pattern(10_000)]), upload);
    expect(upload.uploadUrl).toMatch(new RegExp(`^${server.url}/[^/]+$`));
    expect(seen[0]).toBe(upload.uploadUrl);
    expect((await server.stored(upload.uploadUrl!)).offset).toBe(10_000);
  });
});
