/**
 * bhw --mode azure-blob in-process (counted by coverage; the child-process
 * tests in azure-blob-resume and azure-blob-sas-redaction are the reference
 * for what a user sees): an upload, --resume STATE from a file and from
 * stdin, inputs shorter than the stored blocks, a refused run that says how
 * to continue.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { main } from '../../cli/main.js';
import { BufferedHttpWritable } from '../../lib/index.js';
import { capture } from '../helpers/cli-in-process.js';
import { chunksOf, pattern } from '../helpers/data.js';
import { startAzurite, type Azurite } from './azurite.js';

const BLOCK = 64 * 1024;
const DATA = pattern(6 * BLOCK + 99, 61);
let azurite: Azurite;
let dir: string;
let file: string;
let states = 0;

beforeAll(async () => {
  azurite = await startAzurite();
  dir = await mkdtemp(join(tmpdir(), 'bhw-azure-cli-'));
  file = join(dir, 'data.bin');
  await writeFile(file, DATA);
}, 300_000);

afterAll(async () => {
  await azurite?.close();
  await rm(dir, { recursive: true, force: true });
});

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

/** A blob with its first 3 blocks stored and recorded in a state file (the upload aborted after them). */
async function partly(): Promise<{ url: string; state: string }> {
  const url = await azurite.blobUrl('partly.bin');
  const state = join(dir, `state-${++states}.json`);
  const aborter = new AbortController();
  const upload = new BufferedHttpWritable(url, { mode: 'azure-blob', highWaterMark: BLOCK, stateFile: state, signal: aborter.signal });
  upload.on('error', () => {});
  const stored = new Promise<void>((resolve) => upload.on('progress', (p) => p.bytesAcknowledged >= 3 * BLOCK && resolve()));
  for (const chunk of chunksOf(DATA.subarray(0, 3 * BLOCK + 4096), [4096])) upload.write(chunk);
  await stored;
  const closed = new Promise((resolve) => upload.once('close', resolve));
  aborter.abort();
  await closed;
  return { url, state };
}

describe('bhw --mode azure-blob, in-process', () => {
  test('a file: exit 0, the blob exact', async () => {
    const url = await azurite.blobUrl('whole.bin');
    const out = capture();
    expect(await main(['--mode', 'azure-blob', '--high-water-mark', '64KiB', '--concurrency', '3', file, url], out.io)).toBe(0);
    expect(out.stderr()).toMatch(/bhw: uploaded \d+ bytes .*status 201/);
    expect(sha256(await azurite.read(url))).toBe(sha256(DATA));
  });

  test('--resume STATE with the file: sends what is left, from the offset', async () => {
    const { url, state } = await partly();
    const out = capture();
    expect(await main(['--mode', 'azure-blob', '--high-water-mark', '64KiB', '--json', '--resume', state, file, url], out.io)).toBe(0);
    expect(JSON.parse(out.stdout())).toMatchObject({ bytes: DATA.length - 3 * BLOCK, offset: 3 * BLOCK, statusCode: 201 });
    expect(sha256(await azurite.read(url))).toBe(sha256(DATA));
  });

  test('--resume STATE with stdin: skips the stored bytes', async () => {
    const { url, state } = await partly();
    const out = capture({ stdin: Readable.from(chunksOf(DATA, [10_000])) });
    expect(await main(['--mode', 'azure-blob', '--high-water-mark', '64KiB', '--resume', state, '-', url], out.io)).toBe(0);
    expect(sha256(await azurite.read(url))).toBe(sha256(DATA));
  });

  test('--resume STATE with stdin shorter than the stored blocks: exit 2', async () => {
    const { url, state } = await partly();
    const out = capture({ stdin: Readable.from([DATA.subarray(0, BLOCK)]) });
    expect(await main(['--mode', 'azure-blob', '--high-water-mark', '64KiB', '--resume', state, '-', url], out.io)).toBe(2);
    expect(out.stderr()).toMatch(/the input must carry the same bytes as in the first run/);
  });

  test('--resume STATE with a file shorter than the stored blocks: exit 2 before any request', async () => {
    const { url, state } = await partly();
    const short = join(dir, 'short.bin');
    await writeFile(short, DATA.subarray(0, BLOCK));
    const out = capture();
    expect(await main(['--mode', 'azure-blob', '--resume', state, short, url], out.io)).toBe(2);
    expect(out.stderr()).toContain(`fewer than the ${3 * BLOCK} the parts recorded in ${state} hold`);
  });

  test('a run the service refuses, with --resume: exit 1, says how to continue, no sig', async () => {
    const url = (await azurite.blobUrl('refused.bin')).replace(/sig=[^&]*/, 'sig=Wr0ngSig');
    const state = join(dir, 'refused.json');
    const out = capture();
    expect(await main(['--mode', 'azure-blob', '--retry', '0', '--resume', state, file, url], out.io)).toBe(1);
    expect(out.stderr()).toContain(`run the same command again to continue`);
    expect(out.stderr()).not.toContain('Wr0ngSig');
  });
});
