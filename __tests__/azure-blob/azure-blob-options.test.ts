/**
 * azure-blob's options are strict like every mode's: a URL without a SAS, an
 * unknown or malformed `azureBlob` field, a block too large for Put Block or
 * another mode's option is refused with a message naming it (and never
 * repeating the URL's query). Block ids have one width for every block.
 */
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { BufferedHttpWritable, type BufferedHttpWritableOptions } from '../../lib/index.js';
import { blockId, blockNumber, newNonce } from '../../lib/modes/azure-blob/block-ids.js';
import { blockListXml, uncommittedBlocks } from '../../lib/modes/azure-blob/block-list.js';
import { resolveOptions } from '../../lib/options/resolve.js';
import { runUpload } from '../helpers/outcome.js';
import { startAzurite } from './azurite.js';

const SAS_URL = 'https://acct.blob.core.windows.net/box/file.bin?sv=2025-01-05&sr=b&sp=cw&sig=S3CRETsig%3D';
const resolve = (options: object, url = SAS_URL): unknown => resolveOptions(url, { mode: 'azure-blob', ...options } as BufferedHttpWritableOptions);

describe('azure-blob options', () => {
  test('defaults: 8 MiB blocks, 4 in flight, Content-MD5, no content type, no metadata', () => {
    expect(resolve({})).toMatchObject({
      mode: 'azure-blob',
      highWaterMark: 8 * 1024 * 1024,
      concurrency: 4,
      leavePartsOnError: false,
      azureBlob: { checksum: 'md5', metadata: {} },
    });
  });

  test.each([
    ['a URL without a SAS', {}, 'https://acct.blob.core.windows.net/box/file.bin?sv=2025&sp=cw', /needs a blob URL carrying a SAS token .*no 'sig' parameter/],
    ['a URL naming no blob', {}, 'https://acct.blob.core.windows.net/box?sig=S3CRETsig', /naming a container and a blob .*"\/box"/],
    [
      'an unknown azureBlob field',
      { azureBlob: { contentTyp: 'text/plain' } },
      SAS_URL,
      /Unknown option 'azureBlob.contentTyp' \(did you mean 'azureBlob.contentType'\?\)/,
    ],
    ['azureBlob not an object', { azureBlob: 'md5' }, SAS_URL, /azureBlob must be an object/],
    ['an unknown checksum', { azureBlob: { checksum: 'crc32' } }, SAS_URL, /azureBlob.checksum must be one of 'md5', 'crc64', received "crc32"/],
    ['checksum true', { azureBlob: { checksum: true } }, SAS_URL, /azureBlob.checksum must be one of 'md5', 'crc64'/],
    ['a checksum in capitals', { azureBlob: { checksum: 'CRC64' } }, SAS_URL, /azureBlob.checksum must be one of 'md5', 'crc64', received "CRC64"/],
    ['an empty content type', { azureBlob: { contentType: '' } }, SAS_URL, /azureBlob.contentType must be a non-empty ASCII string/],
    [
      'a content type with a line break',
      { azureBlob: { contentType: 'text/plain\r\nx: y' } },
      SAS_URL,
      /azureBlob.contentType must be a non-empty ASCII string/,
    ],
    ['a metadata name that is no C# identifier', { azureBlob: { metadata: { 'a-b': '1' } } }, SAS_URL, /metadata names must be C# identifiers .*"a-b"/],
    ['a metadata value that is not ASCII', { azureBlob: { metadata: { city: 'Zürich' } } }, SAS_URL, /azureBlob.metadata.city must be printable ASCII/],
    ['a metadata value that is not a string', { azureBlob: { metadata: { n: 1 } } }, SAS_URL, /azureBlob.metadata.n must be a string/],
    ['a block larger than Put Block takes', { highWaterMark: 4001 * 1024 * 1024 }, SAS_URL, /at most 4194304000 bytes \(4000 MiB\)/],
    ["another mode's option", { method: 'PUT' }, SAS_URL, /'method' does not apply to mode 'azure-blob'/],
    ['maxConcurrency without auto', { maxConcurrency: 3 }, SAS_URL, /maxConcurrency applies only with concurrency: 'auto'/],
  ])('refuses %s', (_name, options, url, message) => {
    let error: Error | undefined;
    try {
      resolve(options, url);
    } catch (thrown) {
      error = thrown as Error;
    }
    expect(error?.message).toMatch(message);
    expect(error?.message).not.toContain('S3CRET');
  });

  test("checksum 'crc64' or false is taken as given", () => {
    expect(resolve({ azureBlob: { checksum: 'crc64' } })).toMatchObject({ azureBlob: { checksum: 'crc64', metadata: {} } });
    expect(resolve({ azureBlob: { checksum: false } })).toMatchObject({ azureBlob: { checksum: false } });
  });

  test('azureBlob is refused in the other modes', () => {
    expect(() => resolveOptions(SAS_URL, { mode: 'batch', azureBlob: {} } as unknown as BufferedHttpWritableOptions)).toThrow(
      /'azureBlob' does not apply to mode 'batch' \(it applies to 'azure-blob'\)/,
    );
  });

  test('a state file keeps the blocks on failure unless told otherwise', () => {
    expect(resolve({ stateFile: '/tmp/s.json' })).toMatchObject({ stateFile: '/tmp/s.json', leavePartsOnError: true });
    expect(resolve({ stateFile: '/tmp/s.json', leavePartsOnError: false })).toMatchObject({ leavePartsOnError: false });
  });
});

describe('azure-blob block ids and block lists', () => {
  test('every block id of an upload has the same width, from block 1 to block 50 000, and maps back to its number', () => {
    const nonce = newNonce();
    const ids = [1, 9, 10, 999, 50_000].map((number) => blockId(nonce, number));
    expect(new Set(ids.map((id) => id.length))).toEqual(new Set([40]));
    expect(ids.map((id) => blockNumber(nonce, id))).toEqual([1, 9, 10, 999, 50_000]);
  });

  test("another upload's block, or an id that is not ours, has no number here", () => {
    const nonce = newNonce();
    expect(blockNumber(nonce, blockId(newNonce(), 3))).toBeUndefined();
    expect(blockNumber(nonce, Buffer.from('short').toString('base64'))).toBeUndefined();
    expect(blockNumber(nonce, Buffer.from(`${nonce}00000x`).toString('base64'))).toBeUndefined();
    expect(blockNumber(nonce, Buffer.from(`${nonce}000000`).toString('base64'))).toBeUndefined();
  });

  test('Put Block List names the blocks in order; Get Block List is read for its uncommitted blocks only', () => {
    expect(blockListXml(['QQ==', 'Qg=='])).toBe('<?xml version="1.0" encoding="utf-8"?><BlockList><Latest>QQ==</Latest><Latest>Qg==</Latest></BlockList>');
    const answer =
      '<?xml version="1.0" encoding="utf-8"?><BlockList><CommittedBlocks><Block><Name>Qw==</Name><Size>9</Size></Block></CommittedBlocks>' +
      '<UncommittedBlocks><Block><Name>QQ==</Name><Size>5</Size></Block><Block><Name>bad id!</Name><Size>1</Size></Block><Block><Name>Qg==</Name><Size>7</Size></Block></UncommittedBlocks></BlockList>';
    expect(uncommittedBlocks(answer)).toEqual([
      { id: 'QQ==', size: 5 },
      { id: 'Qg==', size: 7 },
    ]);
    expect(uncommittedBlocks('<BlockList><UncommittedBlocks /></BlockList>')).toEqual([]);
  });

  test('a state file for a blob the service does not have fails clearly (Get Block List: 404)', async () => {
    const azurite = await startAzurite();
    const dir = await mkdtemp(join(tmpdir(), 'bhw-azure-state-'));
    try {
      const url = await azurite.blobUrl('never.bin');
      const stateFile = join(dir, 'state.json');
      const target = new URL(url);
      target.search = '';
      await writeFile(stateFile, JSON.stringify({ version: 1, target: target.href, uploadId: newNonce(), parts: [{ number: 1, size: 4, etag: 'x' }] }));
      const { error } = await runUpload(new BufferedHttpWritable(url, { mode: 'azure-blob', stateFile }), ['more']);
      expect(error).toMatchObject({
        code: 'ERR_BHW_PARTS_STATE',
        message: expect.stringContaining('records part 1 (4 bytes), which the Azure block blob no longer holds'),
      });
    } finally {
      await azurite.close();
      await rm(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
