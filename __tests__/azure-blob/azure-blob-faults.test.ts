/**
 * A block changed or cut on its way is sent again, alone, and the blob is
 * exact: Azurite checks each block's Content-MD5 and refuses a changed one
 * (400 Md5Mismatch); a connection cut mid-block is a network failure the
 * retry loop resends.
 */
import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { BufferedHttpWritable } from '../../lib/index.js';
import { chunksOf, pattern } from '../helpers/data.js';
import { startByteFlipProxy, type ByteFlipProxy } from '../helpers/byte-flip-proxy.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { runUpload } from '../helpers/outcome.js';
import { startAzurite, type Azurite } from './azurite.js';

const BLOCK = 64 * 1024;
let azurite: Azurite;
let proxy: ByteFlipProxy | FaultProxy | undefined;

/** `METHOD /path?query` of each Put Block the proxy passed on (Put Block List and Put Blob are PUTs too, but never `comp=block&`). */
const putBlocks = (flip: ByteFlipProxy): string[] =>
  flip.requests.map((request) => `${request.method} ${request.url}`).filter((line) => line.includes('comp=block&'));

beforeAll(async () => {
  azurite = await startAzurite();
}, 300_000);

afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

afterAll(async () => {
  await azurite?.close();
});

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

describe('azure-blob: blocks damaged on the way', () => {
  test('a byte flipped in one block: Azurite answers Md5Mismatch, that block alone is resent, the blob is exact', async () => {
    const url = await azurite.blobUrl('flipped.bin');
    // Blocks are the first PUTs (Put Block List comes after all of them): the third PUT is block 3.
    const flip = await startByteFlipProxy(url, { method: 'PUT', requests: [3], at: 1234 });
    proxy = flip;
    const data = pattern(6 * BLOCK + 10, 5);
    const upload = new BufferedHttpWritable(flip.url(url), { mode: 'azure-blob', highWaterMark: BLOCK, concurrency: 1, retry: { backoffLimit: 10 } });
    const outcome = await runUpload(upload, chunksOf(data, [4096]));
    expect(outcome.error).toBeUndefined();
    expect(sha256(await azurite.read(url))).toBe(sha256(data));
    const blocks = putBlocks(flip);
    // Seven blocks, the third twice: the damaged attempt and its resend, with the same block id.
    expect(blocks).toHaveLength(8);
    expect(blocks[3]).toBe(blocks[2]);
  });

  test('without a checksum the changed byte goes unnoticed: the checksum is what catches it', async () => {
    const url = await azurite.blobUrl('unchecked.bin');
    const flip = await startByteFlipProxy(url, { method: 'PUT', requests: [2], at: 5 });
    proxy = flip;
    const data = pattern(3 * BLOCK, 6);
    const upload = new BufferedHttpWritable(flip.url(url), { mode: 'azure-blob', highWaterMark: BLOCK, concurrency: 1, azureBlob: { checksum: false } });
    expect((await runUpload(upload, chunksOf(data, [4096]))).error).toBeUndefined();
    expect(putBlocks(flip)).toHaveLength(3);
    expect(sha256(await azurite.read(url))).not.toBe(sha256(data));
  });

  test('connections cut mid-block: each cut block is resent, the blob is exact', async () => {
    const url = await azurite.blobUrl('cut.bin');
    const cuts = await startFaultProxy(url);
    proxy = cuts;
    cuts.cutAt([Math.floor(2.5 * BLOCK), Math.floor(5.3 * BLOCK)]);
    const data = pattern(8 * BLOCK + 99, 8);
    const upload = new BufferedHttpWritable(cuts.url(url), { mode: 'azure-blob', highWaterMark: BLOCK, concurrency: 2, retry: { backoffLimit: 10 } });
    const outcome = await runUpload(upload, chunksOf(data, [10_000]));
    expect(outcome.error).toBeUndefined();
    expect(cuts.faults).toBe(2);
    expect(sha256(await azurite.read(url))).toBe(sha256(data));
  });
});
