/**
 * `azureBlob.checksum: 'crc64'` against Azurite: every block and the small
 * blob carry `x-ms-content-crc64` (never with Content-MD5, which the service
 * refuses together), Azurite accepts them and the blob read back is exact;
 * the header's value is the one the Azure service itself returned for the
 * same bytes; a byte flipped in one block is refused (400 Crc64Mismatch) and
 * that block alone is resent.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import diagnosticsChannel from 'node:diagnostics_channel';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { BufferedHttpWritable, DiagnosticsChannels, type RequestRetriedMessage } from '../../lib/index.js';
import { chunksOf, pattern } from '../helpers/data.js';
import { startByteFlipProxy, type ByteFlipProxy } from '../helpers/byte-flip-proxy.js';
import { runUpload } from '../helpers/outcome.js';
import { startAzurite, type Azurite } from './azurite.js';

const BLOCK = 64 * 1024;
let azurite: Azurite;
let proxy: ByteFlipProxy | undefined;

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

/** A proxy that flips the bytes of the PUTs listed (none by default) and records every request's headers. */
async function recordingProxy(url: string, flips: number[] = []): Promise<ByteFlipProxy> {
  proxy = await startByteFlipProxy(url, { method: 'PUT', requests: flips, at: 1234 });
  return proxy;
}

/** The checksum headers of each Put Block (`comp=block&`) or Put Blob (no `comp`), in order. */
const checksumHeaders = (flip: ByteFlipProxy, kind: 'block' | 'blob'): Array<Record<string, string | undefined>> =>
  flip.requests
    .filter((request) => request.method === 'PUT' && (kind === 'block' ? request.url.includes('comp=block&') : !request.url.includes('comp=')))
    .map(({ headers }) => ({ crc64: headers['x-ms-content-crc64'] as string | undefined, md5: headers['content-md5'] as string | undefined }));

describe("azure-blob with checksum 'crc64'", () => {
  test.each([
    ['smaller than one block (Put Blob)', 10_000, 'blob'],
    ['several blocks and a short last one (Put Block)', 6 * BLOCK + 77, 'block'],
  ] as const)('%s: every request carries x-ms-content-crc64 alone, and the blob read back is exact', async (_name, length, kind) => {
    const url = await azurite.blobUrl('crc64.bin');
    const flip = await recordingProxy(url);
    const data = pattern(length, length);
    const upload = new BufferedHttpWritable(flip.url(url), { mode: 'azure-blob', highWaterMark: BLOCK, concurrency: 3, azureBlob: { checksum: 'crc64' } });
    const outcome = await runUpload(upload, chunksOf(data, [1000, 70_000, 3]));
    expect(outcome.error).toBeUndefined();
    expect(sha256(await azurite.read(url))).toBe(sha256(data));
    const headers = checksumHeaders(flip, kind);
    expect(headers).toHaveLength(kind === 'blob' ? 1 : 7);
    for (const header of headers) expect(header).toEqual({ crc64: expect.stringMatching(/^[A-Za-z0-9+/]{11}=$/), md5: undefined });
  });

  // The values the Azure service itself answered for these bytes (azure-sdk-for-js's recorded
  // storage-blob tests: "Hello World" stored with x-ms-content-crc64 YeJLfssylmU=, and
  // "Hello World!" refused by Crc64Mismatch with ServerCalculatedCrc peH8Xsgc5QI=).
  test("the header's value is Azure's CRC-64 of the bytes: on each block and on a small blob", async () => {
    const blocks = await azurite.blobUrl('vector-blocks.txt');
    const flip = await recordingProxy(blocks);
    const twice = new BufferedHttpWritable(flip.url(blocks), { mode: 'azure-blob', highWaterMark: 11, concurrency: 1, azureBlob: { checksum: 'crc64' } });
    expect((await runUpload(twice, ['Hello World', 'Hello World'])).error).toBeUndefined();
    expect(checksumHeaders(flip, 'block')).toEqual([
      { crc64: 'YeJLfssylmU=', md5: undefined },
      { crc64: 'YeJLfssylmU=', md5: undefined },
    ]);
    expect((await azurite.read(blocks)).toString()).toBe('Hello WorldHello World');

    await flip.close();
    const blob = await azurite.blobUrl('vector-blob.txt');
    const flipBlob = await recordingProxy(blob);
    const small = new BufferedHttpWritable(flipBlob.url(blob), { mode: 'azure-blob', azureBlob: { checksum: 'crc64' } });
    expect((await runUpload(small, ['Hello World!'])).error).toBeUndefined();
    expect(checksumHeaders(flipBlob, 'blob')).toEqual([{ crc64: 'peH8Xsgc5QI=', md5: undefined }]);
    expect((await azurite.read(blob)).toString()).toBe('Hello World!');
  });

  test('a byte flipped in one block: Azurite answers Crc64Mismatch, that block alone is resent, the blob is exact', async () => {
    const url = await azurite.blobUrl('flipped.bin');
    // Blocks are the first PUTs (Put Block List comes after all of them): the third PUT is block 3.
    const flip = await recordingProxy(url, [3]);
    const data = pattern(6 * BLOCK + 10, 5);
    const upload = new BufferedHttpWritable(flip.url(url), {
      mode: 'azure-blob',
      highWaterMark: BLOCK,
      concurrency: 1,
      retry: { backoffLimit: 10 },
      azureBlob: { checksum: 'crc64' },
    });
    const retried: RequestRetriedMessage[] = [];
    const listener = (message: unknown): void => void retried.push(message as RequestRetriedMessage);
    diagnosticsChannel.subscribe(DiagnosticsChannels.requestRetried, listener);
    const outcome = await runUpload(upload, chunksOf(data, [4096])).finally(() => diagnosticsChannel.unsubscribe(DiagnosticsChannels.requestRetried, listener));
    expect(outcome.error).toBeUndefined();
    expect(flip.flipped).toBe(1);
    expect(sha256(await azurite.read(url))).toBe(sha256(data));
    const blocks = flip.requests.filter((request) => request.url.includes('comp=block&')).map((request) => request.url);
    // Seven blocks, the third twice: the refused attempt and its resend, with the same block id.
    expect(blocks).toHaveLength(8);
    expect(blocks[3]).toBe(blocks[2]);
    expect(retried).toEqual([expect.objectContaining({ upload, request: 'part 3', statusCode: 400, reason: 'digest-mismatch' })]);
  });
});

test('the CRC-64 module is loaded by the first block that needs it, not with the library', async () => {
  // A process of its own: the built library, as a user imports it.
  const dist = new URL('../../dist/lib/', import.meta.url).href;
  const script = `
    import { createRequire } from 'node:module';
    await import('${dist}index.js');
    const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((file) => file.includes('crc64-nvme'));
    const before = loaded();
    const { blockChecksum } = await import('${dist}modes/azure-blob/checksum.js');
    await blockChecksum(Buffer.from('x'), 'md5');
    const afterMd5 = loaded();
    await blockChecksum(Buffer.from('x'), 'crc64');
    process.stdout.write(JSON.stringify({ before, afterMd5, afterCrc64: loaded() }));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script]);
  expect(JSON.parse(stdout)).toEqual({ before: false, afterMd5: false, afterCrc64: true });
});
