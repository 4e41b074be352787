/**
 * `bhw --mode s3 FILE|- https://endpoint/bucket/key`: credentials and region
 * from the environment as the AWS CLI reads them, `--resume STATE` to
 * continue an upload in a later run (a file read from the recorded bytes on,
 * stdin skipping them), and the secret never printed.
 */
import { afterEach, beforeEach, expect, test } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readUploadState } from '../../lib/index.js';
import { killRunningClis, runCli } from '../helpers/cli.js';
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
