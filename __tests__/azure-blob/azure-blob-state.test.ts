/**
 * The state file of an azure-blob upload, through the library: an abort
 * keeps it (and the blocks) to resume; a failure with `leavePartsOnError:
 * false` forgets it; a state file that cannot be used, or whose blocks the
 * service refuses to list, fails the upload clearly before a block is sent.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { BufferedHttpWritable, readUploadState } from '../../lib/index.js';
import { resolveOptions } from '../../lib/options/resolve.js';
import { chunksOf, pattern } from '../helpers/data.js';
import { runUpload } from '../helpers/outcome.js';
import { startAzurite, type Azurite } from './azurite.js';

const BLOCK = 64 * 1024;
let azurite: Azurite;
let dir: string;
let files = 0;

beforeAll(async () => {
  azurite = await startAzurite();
  dir = await mkdtemp(join(tmpdir(), 'bhw-azure-state-'));
}, 300_000);

afterAll(async () => {
  await azurite?.close();
  await rm(dir, { recursive: true, force: true });
});

const stateFile = (): string => join(dir, `state-${++files}.json`);
const wrongSig = (url: string): string => url.replace(/sig=[^&]*/, 'sig=Wr0ng');

/** Writes `blocks` whole blocks with a state file, waits until the service acknowledged them, then aborts. */
async function abortedAfter(url: string, state: string, blocks: number): Promise<void> {
  const aborter = new AbortController();
  const upload = new BufferedHttpWritable(url, { mode: 'azure-blob', highWaterMark: BLOCK, stateFile: state, signal: aborter.signal });
  upload.on('error', () => {});
  const acknowledged = new Promise<void>((resolve) => upload.on('progress', (p) => p.bytesAcknowledged >= blocks * BLOCK && resolve()));
  for (const chunk of chunksOf(pattern(5 * BLOCK), [4096]).slice(0, (blocks * BLOCK) / 4096 + 1)) upload.write(chunk);
  await acknowledged;
  const closed = new Promise((resolve) => upload.once('close', resolve));
  aborter.abort();
  await closed;
}

describe('azure-blob state file', () => {
  test('an abort keeps the state file and the blocks: the next upload goes on after them', async () => {
    const url = await azurite.blobUrl('aborted.bin');
    const state = stateFile();
    await abortedAfter(url, state, 3);
    expect(await readUploadState(state)).toMatchObject({ bytesStored: 3 * BLOCK });
    const data = pattern(5 * BLOCK);
    const upload = new BufferedHttpWritable(url, { mode: 'azure-blob', highWaterMark: BLOCK, stateFile: state });
    expect((await runUpload(upload, [data.subarray(3 * BLOCK)])).error).toBeUndefined();
    expect((await azurite.read(url)).equals(data)).toBe(true);
  });

  test('a failure with leavePartsOnError: false forgets the state file', async () => {
    const state = stateFile();
    const url = wrongSig(await azurite.blobUrl('refused.bin'));
    const upload = new BufferedHttpWritable(url, { mode: 'azure-blob', highWaterMark: BLOCK, stateFile: state, leavePartsOnError: false, retry: { limit: 0 } });
    const { error } = await runUpload(upload, [pattern(3 * BLOCK)]);
    expect(error).toMatchObject({ statusCode: 403 });
    expect(await readUploadState(state)).toBeUndefined();
  });

  test('a state file whose blocks the service refuses to list (403) fails with that answer', async () => {
    const url = await azurite.blobUrl('listed.bin');
    const state = stateFile();
    await abortedAfter(url, state, 2);
    const upload = new BufferedHttpWritable(wrongSig(url), { mode: 'azure-blob', highWaterMark: BLOCK, stateFile: state, retry: { limit: 0 } });
    const { error } = await runUpload(upload, ['rest']);
    expect(error).toMatchObject({ code: 'ERR_BHW_HTTP_STATUS', statusCode: 403 });
  });

  test.each([
    ['a directory', async (path: string) => void (await mkdir(path)), /cannot be read \(EISDIR/],
    ['not JSON', (path: string) => writeFile(path, '{'), /is not JSON/],
    ['another format', (path: string) => writeFile(path, JSON.stringify({ version: 2 })), /is not an upload state file of this version/],
    [
      'another blob',
      (path: string) => writeFile(path, JSON.stringify({ version: 1, target: 'http://127.0.0.1/devstoreaccount1/c/other.bin', uploadId: 'n', parts: [] })),
      /records an upload to http:\/\/127\.0\.0\.1\/devstoreaccount1\/c\/other\.bin, not http/,
    ],
  ])('a state file that is %s fails the upload before any request', async (_name, make, message) => {
    const state = stateFile();
    await make(state);
    // Nothing listens there: the state file is read before any request.
    const upload = new BufferedHttpWritable('http://127.0.0.1:9/devstoreaccount1/c/b.bin?sig=x', { mode: 'azure-blob', stateFile: state });
    const { error } = await runUpload(upload, ['bytes']);
    expect(error).toMatchObject({ code: 'ERR_BHW_PARTS_STATE', message: expect.stringMatching(message) });
  });

  test('stateFile must be a path', () => {
    expect(() => resolveOptions('http://h/c/b?sig=x', { mode: 'azure-blob', stateFile: '' })).toThrow(/stateFile must be a file path, received ""/);
  });

  test('the state file names the blob without its SAS', async () => {
    const url = await azurite.blobUrl('named.bin');
    const state = stateFile();
    await abortedAfter(url, state, 1);
    const text = await readFile(state, 'utf8');
    expect(text).not.toContain('sig=');
    expect(JSON.parse(text)).toMatchObject({ target: url.slice(0, url.indexOf('?')) });
  });
});
