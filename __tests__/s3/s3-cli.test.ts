/**
 * `bhw --mode s3 FILE|- https://endpoint/bucket/key`: credentials and region
 * from the environment as the AWS CLI reads them, `--resume STATE` to
 * continue an upload in a later run (a file read from the recorded bytes on,
 * stdin skipping them), and the secret never printed.
 */
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { Readable } from 'node:stream';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readUploadState } from '../../lib/index.js';
import { main } from '../../cli/main.js';
import { killRunningClis, runCli } from '../helpers/cli.js';
import { capture } from '../helpers/cli-in-process.js';
import { CREDENTIALS, REGION, content, sha256, startS3, type S3Fixture } from './s3-harness.js';

const PART = 5 * 1024 * 1024;
const SESSION = 'cli-session-token-SECRET-0123456789';
const env = { AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey, AWS_SESSION_TOKEN: SESSION, AWS_REGION: REGION };

let s3: S3Fixture;
let dir: string;
beforeEach(async () => {
  s3 = await startS3();
  dir = await mkdtemp(join(tmpdir(), 'bhw-s3-cli-'));
});
afterEach(async () => {
  await killRunningClis();
  await s3.close();
  await rm(dir, { recursive: true, force: true });
});

test('a file, signed with the keys and session token of the environment', async () => {
  const bytes = content(2 * PART + 99, 31);
  const file = join(dir, 'source.bin');
  await writeFile(file, bytes);
  const result = await runCli(['--mode', 's3', '--high-water-mark', String(PART), file, s3.url('cli.bin')], { env });
  expect(result.code).toBe(0);
  expect(s3.requests[0]!.headers['x-amz-security-token']).toBe(SESSION);
  expect(s3.problems).toEqual([]);
  expect(sha256((await s3.object('cli.bin'))!)).toBe(sha256(bytes));
});

test('--resume STATE: a run refused after 2 parts keeps them; the next run from stdin skips them and completes the object; no secret is printed', async () => {
  const bytes = content(4 * PART + 7, 32);
  const file = join(dir, 'source.bin');
  const state = join(dir, 'upload.json');
  await writeFile(file, bytes);
  s3.answer = (request) =>
    request.query.partNumber === '3'
      ? { status: 403, body: `<Error><Code>AccessDenied</Code><Echo>${CREDENTIALS.secretAccessKey} ${SESSION}</Echo></Error>` }
      : undefined;
  const args = ['--mode', 's3', '--high-water-mark', String(PART), '--concurrency', '1', '--resume', state];
  const refused = await runCli([...args, file, s3.url('resumed.bin')], { env });
  expect(refused.code).not.toBe(0);
  expect(refused.stderr).toMatch(/403/);
  for (const secret of [CREDENTIALS.secretAccessKey, SESSION]) expect(refused.stdout + refused.stderr).not.toContain(secret);
  expect((await readUploadState(state))?.bytesStored).toBe(2 * PART);

  s3.answer = undefined;
  const before = s3.requests.length;
  const resumed = await runCli([...args, '-', s3.url('resumed.bin')], { env, input: bytes });
  expect(resumed.stderr).toMatch(/from offset 10485760/);
  expect(resumed.code).toBe(0);
  const sent = s3.requests.slice(before).filter((request) => request.query.partNumber);
  expect(sent.map((request) => Number(request.query.partNumber))).toEqual([3, 4, 5]);
  expect(sha256((await s3.object('resumed.bin'))!)).toBe(sha256(bytes));
  expect(await readUploadState(state)).toBeUndefined();
});

test('without credentials in the environment: a usage error before any request', async () => {
  const file = join(dir, 'source.bin');
  await writeFile(file, content(10, 33));
  const result = await runCli(['--mode', 's3', file, s3.url('none.bin')], { env: { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined } });
  expect(result.code).toBe(2);
  expect(result.stderr).toMatch(/--mode s3 needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
  expect(s3.requests).toEqual([]);
});

describe('in-process (main(argv, io)), the same paths', () => {
  test('--resume STATE from a file: a refused run keeps 2 parts, the next reads the file from there', async () => {
    const bytes = content(3 * PART + 1, 34);
    const file = join(dir, 'source.bin');
    const state = join(dir, 'in-process.json');
    await writeFile(file, bytes);
    s3.answer = (request) => (request.query.partNumber === '3' ? { status: 403, body: '<Error><Code>AccessDenied</Code></Error>' } : undefined);
    const args = ['--mode', 's3', '--high-water-mark', String(PART), '--concurrency', '1', '--resume', state, file, s3.url('in-process.bin')];
    const refused = capture();
    refused.io.env = env;
    expect(await main(args, refused.io)).toBe(1);
    expect(refused.stderr()).not.toContain(CREDENTIALS.secretAccessKey);
    s3.answer = undefined;
    const resumed = capture();
    resumed.io.env = env;
    expect(await main(args, resumed.io)).toBe(0);
    expect(resumed.stderr()).toMatch(/from offset 10485760/);
    expect(sha256((await s3.object('in-process.bin'))!)).toBe(sha256(bytes));
  });

  test('--resume STATE from stdin, and AWS_DEFAULT_REGION when AWS_REGION is not set', async () => {
    const bytes = content(PART + 3, 35);
    const out = capture({ stdin: Readable.from([bytes]) });
    out.io.env = { ...env, AWS_REGION: undefined, AWS_DEFAULT_REGION: REGION, AWS_SESSION_TOKEN: undefined };
    expect(await main(['--mode', 's3', '--high-water-mark', String(PART), '--resume', join(dir, 'stdin.json'), '-', s3.url('stdin.bin')], out.io)).toBe(0);
    expect(s3.problems).toEqual([]);
    expect(sha256((await s3.object('stdin.bin'))!)).toBe(sha256(bytes));
  });

  test('a state file recording more bytes than the file has, and an empty --resume: usage errors', async () => {
    const file = join(dir, 'short.bin');
    await writeFile(file, content(10, 36));
    const state = join(dir, 'long.json');
    await writeFile(state, JSON.stringify({ version: 1, target: s3.url('short.bin'), uploadId: 'u', parts: [{ number: 1, size: PART, etag: '"e"' }] }));
    const out = capture();
    out.io.env = env;
    expect(await main(['--mode', 's3', '--resume', state, file, s3.url('short.bin')], out.io)).toBe(2);
    expect(out.stderr()).toMatch(/has 10 bytes, fewer than the 5242880 the parts recorded in .*long\.json hold/);
    const empty = capture();
    expect(await main(['--mode', 's3', '--resume', '', file, s3.url('short.bin')], empty.io)).toBe(2);
    expect(empty.stderr()).toMatch(/--resume needs a state file path/);
    const noKeys = capture();
    expect(await main(['--mode', 's3', file, s3.url('short.bin')], noKeys.io)).toBe(2);
    expect(s3.requests).toEqual([]);
  });
});
