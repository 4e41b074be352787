/**
 * azure-blob against Azurite: every blob read back with @azure/storage-blob
 * and compared by sha256: empty, smaller than one block (one Put Blob),
 * several blocks in parallel (Put Block × n, Put Block List), with
 * `concurrency: 'auto'`, with the blob's content type and metadata.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { BufferedHttpWritable, type AzureBlobModeOptions } from '../../lib/index.js';
import { chunksOf, pattern } from '../helpers/data.js';
import { runUpload } from '../helpers/outcome.js';
import { startAzurite, type Azurite } from './azurite.js';

let azurite: Azurite;

beforeAll(async () => {
  azurite = await startAzurite();
}, 300_000);

afterAll(async () => {
  await azurite?.close();
});

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

async function upload(data: Buffer, options: Omit<AzureBlobModeOptions, 'mode'> = {}): Promise<{ url: string; upload: BufferedHttpWritable }> {
  const url = await azurite.blobUrl('data.bin');
  const writable = new BufferedHttpWritable(url, { mode: 'azure-blob', highWaterMark: 64 * 1024, ...options });
  const outcome = await runUpload(writable, chunksOf(data, [1000, 70_000, 3]));
  expect(outcome.error).toBeUndefined();
  return { url, upload: writable };
}

describe('azure-blob mode against Azurite', () => {
  test.each([
    ['empty', 0],
    ['smaller than one block', 10_000],
    ['exactly one block', 64 * 1024],
    ['several blocks and a short last one', 10 * 64 * 1024 + 123],
  ])('%s: the blob read back is the bytes written', async (_name, length) => {
    const data = pattern(length, length + 7);
    const { url, upload: writable } = await upload(data, { concurrency: 3 });
    expect(sha256(await azurite.read(url))).toBe(sha256(data));
    expect(writable.progress).toMatchObject({ bytesWritten: length, bytesAcknowledged: length });
    expect(writable.response?.statusCode).toBe(201);
  });

  test("concurrency 'auto': the blob is exact", async () => {
    const data = pattern(40 * 64 * 1024 + 5, 3);
    const { url } = await upload(data, { concurrency: 'auto', maxConcurrency: 8 });
    expect(sha256(await azurite.read(url))).toBe(sha256(data));
  });

  test('the blob has the content type and metadata asked for, as one block or several', async () => {
    for (const length of [100, 5 * 64 * 1024]) {
      const { url } = await upload(pattern(length), { azureBlob: { contentType: 'application/x-ndjson', metadata: { source: 'bhw', run_1: 'a b' } } });
      const [, , container, blob] = new URL(url).pathname.split('/');
      const properties = await azurite.service.getContainerClient(container!).getBlobClient(blob!).getProperties();
      expect(properties).toMatchObject({ contentType: 'application/x-ndjson', metadata: { source: 'bhw', run_1: 'a b' }, contentLength: length });
    }
  });

  test('checksum: false sends no Content-MD5, and the blob is still exact', async () => {
    const data = pattern(3 * 64 * 1024 + 1, 9);
    const { url } = await upload(data, { azureBlob: { checksum: false } });
    expect(sha256(await azurite.read(url))).toBe(sha256(data));
  });
});
