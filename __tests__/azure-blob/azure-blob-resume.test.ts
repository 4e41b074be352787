/**
 * Resume in a later process: a child uploading with a state file is
 * SIGKILLed after some blocks were acknowledged; a new process given the same
 * state file (the library, or bhw --resume with the file or stdin) goes on
 * after the blocks the file records, each confirmed by Azurite's uncommitted
 * block list, and the committed blob is exact.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { readUploadState, uploadFile } from '../../lib/index.js';
import { killChildren, spawnChild } from '../helpers/children.js';
import { runCli } from '../helpers/cli.js';
import { pattern } from '../helpers/data.js';
import { startAzurite, type Azurite } from './azurite.js';

/** The built child: `npm test` builds before jest. */
const WRITER = fileURLToPath(new URL('../../dist/__tests__/azure-blob/azure-writer.js', import.meta.url));
const BLOCK = 64 * 1024;
const DATA = pattern(20 * BLOCK + 777, 27);

let azurite: Azurite;
let dir: string;
let runs = 0;

beforeAll(async () => {
  azurite = await startAzurite();
  dir = await mkdtemp(join(tmpdir(), 'bhw-azure-resume-'));
  await writeFile(join(dir, 'data.bin'), DATA);
}, 300_000);

afterEach(async () => {
  await killChildren();
});

afterAll(async () => {
  await azurite?.close();
  await rm(dir, { recursive: true, force: true });
});

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

/** Runs the writer child; resolves with its output lines once `until` is printed (then SIGKILLs it when `stop` was given) or it exits. */
async function writer(url: string, state: string, { stop, until }: { stop?: number; until: string }): Promise<string[]> {
  const args = [WRITER, url, state, join(dir, 'data.bin'), ...(stop === undefined ? [] : [String(stop)])];
  const child = spawnChild(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const closed = once(child, 'close');
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.split('\n').includes(until)) resolve();
    });
    void closed.then(() => reject(new Error(`writer exited before '${until}': ${stdout}${stderr}`)));
  });
  if (stop !== undefined) child.kill('SIGKILL');
  await closed;
  return stdout.split('\n').filter(Boolean);
}

/** A new blob and a writer SIGKILLed once 9 blocks (of the 9 it may send before its stop) are acknowledged. */
async function killedAfterNineBlocks(): Promise<{ url: string; state: string }> {
  const url = await azurite.blobUrl('resumed.bin');
  const state = join(dir, `state-${++runs}.json`);
  await writer(url, state, { stop: Math.floor(9.5 * BLOCK), until: `acked ${9 * BLOCK}` });
  expect(await readUploadState(state)).toMatchObject({ bytesStored: 9 * BLOCK });
  return { url, state };
}

describe('azure-blob: resume after SIGKILL', () => {
  test('the library given the same state file goes on after the stored blocks: the blob is exact, the state file gone', async () => {
    const { url, state } = await killedAfterNineBlocks();
    const lines = await writer(url, state, { until: 'done' });
    // The resumed process sent only what was left.
    expect(lines).toContain(`sent ${DATA.length - 9 * BLOCK}`);
    expect(sha256(await azurite.read(url))).toBe(sha256(DATA));
    expect(await readUploadState(state)).toBeUndefined();
  });

  test('blocks the service stored after the state file was last written are sent again: the file says where the writer goes on', async () => {
    const { url, state } = await killedAfterNineBlocks();
    // As if the process died between a block's acknowledgement and the state file's write, twice.
    const recorded = JSON.parse(await readFile(state, 'utf8')) as { parts: unknown[] };
    recorded.parts = recorded.parts.slice(0, 7);
    await writeFile(state, JSON.stringify(recorded));
    expect(await readUploadState(state)).toMatchObject({ bytesStored: 7 * BLOCK });
    await writer(url, state, { until: 'done' });
    expect(sha256(await azurite.read(url))).toBe(sha256(DATA));
  });

  test('a state file recording blocks the service does not hold fails the upload clearly, before any block is sent', async () => {
    const { url, state } = await killedAfterNineBlocks();
    const recorded = JSON.parse(await readFile(state, 'utf8')) as { uploadId: string };
    recorded.uploadId = '0'.repeat(recorded.uploadId.length);
    await writeFile(state, JSON.stringify(recorded));
    await expect(writer(url, state, { until: 'done' })).rejects.toThrow(
      /ERR_BHW_PARTS_STATE|records part 1 \(65536 bytes\), which the Azure block blob no longer holds/,
    );
  });

  test('bhw --resume STATE with the file: goes on from the stored blocks, the blob is exact', async () => {
    const { url, state } = await killedAfterNineBlocks();
    const result = await runCli(['--mode', 'azure-blob', '--high-water-mark', '64KiB', '--resume', state, join(dir, 'data.bin'), url]);
    expect(result).toMatchObject({ code: 0 });
    expect(result.stderr).toContain(`bhw: uploaded ${DATA.length - 9 * BLOCK} bytes`);
    expect(result.stderr).toContain(`from offset ${9 * BLOCK}`);
    expect(sha256(await azurite.read(url))).toBe(sha256(DATA));
  });

  test('bhw --resume STATE with stdin: skips the stored bytes, the blob is exact', async () => {
    const { url, state } = await killedAfterNineBlocks();
    const result = await runCli(['--mode', 'azure-blob', '--high-water-mark', '64KiB', '--resume', state, '-', url], { input: DATA });
    expect(result).toMatchObject({ code: 0 });
    expect(sha256(await azurite.read(url))).toBe(sha256(DATA));
  });

  test('a file shorter than the stored blocks is refused before any request: bhw exits 2, uploadFile rejects', async () => {
    const { url, state } = await killedAfterNineBlocks();
    const short = join(dir, 'short.bin');
    await writeFile(short, DATA.subarray(0, 5 * BLOCK));
    const result = await runCli(['--mode', 'azure-blob', '--resume', state, short, url]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`has ${5 * BLOCK} bytes, fewer than the ${9 * BLOCK} the parts recorded in ${state} hold`);
    await expect(uploadFile(short, url, { mode: 'azure-blob', highWaterMark: BLOCK, stateFile: state })).rejects.toMatchObject({
      code: 'ERR_BHW_FILE_CHANGED',
    });
  });

  test('uploadFile given the state file goes on after the stored blocks by itself', async () => {
    const { url, state } = await killedAfterNineBlocks();
    const result = await uploadFile(join(dir, 'data.bin'), url, { mode: 'azure-blob', highWaterMark: BLOCK, stateFile: state });
    expect(result).toMatchObject({ bytesSent: DATA.length - 9 * BLOCK, response: { statusCode: 201 } });
    expect(sha256(await azurite.read(url))).toBe(sha256(DATA));
  });

  test('bhw --resume STATE on a first run creates the state file and removes it once the blob is committed', async () => {
    const url = await azurite.blobUrl('first.bin');
    const state = join(dir, 'first.json');
    const result = await runCli(['--mode', 'azure-blob', '--high-water-mark', '64KiB', '--resume', state, join(dir, 'data.bin'), url]);
    expect(result).toMatchObject({ code: 0 });
    expect(sha256(await azurite.read(url))).toBe(sha256(DATA));
    expect(await readUploadState(state)).toBeUndefined();
  });
});
