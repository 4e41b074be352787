/**
 * Resume in a later process: a child uploading a file with a state file is
 * SIGKILLed while parts are in flight; the state file then records the upload
 * id and the parts S3 acknowledged. A new upload given the same file reads the
 * source from `readUploadState(...).bytesStored` on, sends only the parts
 * after them (s3rver has no ListParts: the state file is the record), and
 * the object is exact. A state file whose parts the server no longer holds
 * is refused rather than completed wrong.
 */
import { afterEach, beforeEach, expect, test } from '@jest/globals';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { closeSync, constants, createWriteStream, openSync } from 'node:fs';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PartsStateError, readUploadState, uploadFile } from '../../lib/index.js';
import { killChildren, spawnChild } from '../helpers/children.js';
import { CREDENTIALS, REGION, content, sha256, startS3, type S3Fixture } from './s3-harness.js';

/** The built child: `npm test` builds before jest. */
const WRITER = fileURLToPath(new URL('../../dist/__tests__/s3/s3-writer.js', import.meta.url));
const PART = 5 * 1024 * 1024;

let s3: S3Fixture;
let dir: string;
beforeEach(async () => {
  s3 = await startS3();
  dir = await mkdtemp(join(tmpdir(), 'bhw-s3-resume-'));
});
afterEach(async () => {
  await killChildren();
  await s3.close();
  await rm(dir, { recursive: true, force: true });
});

/** Resolves once the child printed that `bytes` were acknowledged. */
function acknowledged(child: ChildProcess, bytes: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let text = '';
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.split('\n').some((line) => line.startsWith('acknowledged ') && Number(line.slice(13)) >= bytes)) resolve();
    });
    child.on('close', (code) => reject(new Error(`writer exited (${code}) before ${bytes} bytes were acknowledged: ${stderr}`)));
  });
}

test('a writer killed with parts in flight: a later process completes the object exactly, sending only the parts after those recorded', async () => {
  const bytes = content(7 * PART + 4321, 21);
  const file = join(dir, 'source.bin');
  const stateFile = join(dir, 'upload.json');
  await writeFile(file, bytes);
  const url = s3.url('resumed.bin');
  // Parts 4 and on are held by the proxy: the writer is killed while they are in flight.
  s3.hold = (request) => Number(request.query.partNumber) >= 4;
  const child = spawnChild(process.execPath, [WRITER, file, url, stateFile, CREDENTIALS.accessKeyId, CREDENTIALS.secretAccessKey, REGION], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await acknowledged(child, 3 * PART);
  const exited = once(child, 'close');
  child.kill('SIGKILL');
  await exited;

  const state = await readUploadState(stateFile);
  expect(state?.bytesStored).toBe(3 * PART);
  expect(state?.parts.map((part) => part.number)).toEqual([1, 2, 3]);
  expect(((await stat(stateFile)).mode & 0o777).toString(8)).toBe('600');
  expect(await readFile(stateFile, 'utf8')).not.toContain(CREDENTIALS.secretAccessKey);
  expect(await s3.object('resumed.bin')).toBeUndefined();

  s3.hold = undefined;
  const before = s3.requests.length;
  const result = await uploadFile(file, url, { mode: 's3', highWaterMark: PART, stateFile, s3: { credentials: CREDENTIALS, region: REGION } });
  const resumedRequests = s3.requests.slice(before);
  // No new multipart upload; the stored parts are not sent again.
  expect(resumedRequests.some((request) => 'uploads' in request.query)).toBe(false);
  expect(
    resumedRequests
      .filter((request) => request.query.partNumber)
      .map((request) => Number(request.query.partNumber))
      .sort(),
  ).toEqual([4, 5, 6, 7, 8]);
  expect(result.bytesAcknowledged).toBe(bytes.length - 3 * PART);
  expect(sha256((await s3.object('resumed.bin'))!)).toBe(sha256(bytes));
  // Complete: nothing is left to resume.
  expect(await readUploadState(stateFile)).toBeUndefined();
  expect(s3.problems).toEqual([]);
});

test('a state file that records another object is refused before any request', async () => {
  const stateFile = join(dir, 'other.json');
  await writeFile(stateFile, JSON.stringify({ version: 1, target: s3.url('other.bin'), uploadId: 'x', parts: [{ number: 1, size: PART, etag: '"e"' }] }));
  const file = join(dir, 'source.bin');
  await writeFile(file, content(2 * PART, 22));
  const error = await uploadFile(file, s3.url('this.bin'), {
    mode: 's3',
    highWaterMark: PART,
    stateFile,
    s3: { credentials: CREDENTIALS, region: REGION },
  }).catch((caught: unknown) => caught);
  expect(error).toBeInstanceOf(PartsStateError);
  expect((error as Error).message).toMatch(/records an upload to .*other\.bin/);
  expect(s3.requests).toEqual([]);
});

/** An upload stopped after 3 parts (parts 4 and on held, then an abort): its state file records parts 1–3. */
async function stoppedAfterThreeParts(key: string, bytes: Buffer, stateFile: string): Promise<string> {
  const file = join(dir, `${key}.src`);
  await writeFile(file, bytes);
  s3.hold = (request) => Number(request.query.partNumber) >= 4;
  const aborter = new AbortController();
  const options = { mode: 's3' as const, highWaterMark: PART, stateFile, signal: aborter.signal, s3: { credentials: CREDENTIALS, region: REGION } };
  const stopped = uploadFile(file, s3.url(key), {
    ...options,
    onProgress: (progress) => {
      if (progress.bytesAcknowledged >= 3 * PART) aborter.abort();
    },
  }).catch((caught: unknown) => caught);
  expect(await stopped).toMatchObject({ name: 'AbortError' });
  expect((await readUploadState(stateFile))?.parts.map((part) => part.number)).toEqual([1, 2, 3]);
  s3.hold = undefined;
  return file;
}

/** A ListParts answer as S3 gives it, one page of `parts` (`next`: more pages follow, from that marker). */
function listPartsPage(parts: Array<{ number: number; size: number; etag: string }>, next?: number): string {
  const items = parts
    .map((part) => `<Part><PartNumber>${part.number}</PartNumber><ETag>${part.etag.replace(/"/g, '&quot;')}</ETag><Size>${part.size}</Size></Part>`)
    .join('');
  const more = next === undefined ? '<IsTruncated>false</IsTruncated>' : `<IsTruncated>true</IsTruncated><NextPartNumberMarker>${next}</NextPartNumberMarker>`;
  return `<?xml version="1.0" encoding="UTF-8"?><ListPartsResult>${more}${items}</ListPartsResult>`;
}

test('where the server answers ListParts (in pages), the recorded parts are checked against it and the upload goes on', async () => {
  const bytes = content(4 * PART + 9, 23);
  const stateFile = join(dir, 'listed.json');
  const file = await stoppedAfterThreeParts('listed.bin', bytes, stateFile);
  const { parts } = (await readUploadState(stateFile))!;
  s3.answer = (request) => {
    if (request.method !== 'GET' || !request.query.uploadId) return undefined;
    const marker = Number(request.query['part-number-marker']);
    return { status: 200, body: marker === 0 ? listPartsPage(parts.slice(0, 2), 2) : listPartsPage(parts.slice(2)) };
  };
  await uploadFile(file, s3.url('listed.bin'), { mode: 's3', highWaterMark: PART, stateFile, s3: { credentials: CREDENTIALS, region: REGION } });
  expect(s3.requests.filter((request) => request.method === 'GET').map((request) => request.query['part-number-marker'])).toEqual(['0', '2']);
  expect(sha256((await s3.object('listed.bin'))!)).toBe(sha256(bytes));
});

test('a recorded part the server no longer lists: the resume is refused, not completed wrong', async () => {
  const stateFile = join(dir, 'lost.json');
  const file = await stoppedAfterThreeParts('lost.bin', content(4 * PART, 24), stateFile);
  const { parts } = (await readUploadState(stateFile))!;
  s3.answer = (request) => (request.method === 'GET' && request.query.uploadId ? { status: 200, body: listPartsPage([parts[0]!, parts[2]!]) } : undefined);
  const error = await uploadFile(file, s3.url('lost.bin'), {
    mode: 's3',
    highWaterMark: PART,
    stateFile,
    s3: { credentials: CREDENTIALS, region: REGION },
  }).catch((caught: unknown) => caught);
  expect(error).toBeInstanceOf(PartsStateError);
  expect((error as Error).message).toMatch(/records part 2 \(5242880 bytes\), which the S3 multipart upload no longer holds: .*start over without it/);
  expect(await s3.object('lost.bin')).toBeUndefined();
});

test('a pipe given to uploadFile: the recorded bytes are read and dropped, the rest completes the object', async () => {
  const bytes = content(3 * PART + 5, 25);
  const stateFile = join(dir, 'pipe.json');
  await stoppedAfterThreeParts('pipe.bin', bytes, stateFile);
  const fifo = join(dir, 'source.fifo');
  execFileSync('mkfifo', [fifo]);
  // Opened without waiting for a writer; uploadFile reads it as it comes.
  const fd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const writer = createWriteStream(fifo);
  writer.end(bytes);
  try {
    await uploadFile(fd, s3.url('pipe.bin'), { mode: 's3', highWaterMark: PART, stateFile, s3: { credentials: CREDENTIALS, region: REGION } });
  } finally {
    closeSync(fd);
  }
  expect(sha256((await s3.object('pipe.bin'))!)).toBe(sha256(bytes));
});
