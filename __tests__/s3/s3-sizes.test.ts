/**
 * Objects of every shape reach a real S3 server (s3rver) whole: empty, under
 * one part (PutObject), exactly one part, several parts with a short last,
 * with each checksum, fixed and 'auto' concurrency. Every request's SigV4
 * signature and body hashes are checked by the proxy; every object is read
 * back with the AWS SDK and compared byte for byte.
 */
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { BufferedHttpWritable, type S3ChecksumAlgorithm } from '../../lib/index.js';
import { CREDENTIALS, REGION, content, sha256, startS3, type S3Fixture } from './s3-harness.js';

const PART = 5 * 1024 * 1024;

let s3: S3Fixture;
beforeEach(async () => {
  s3 = await startS3();
});
afterEach(async () => {
  await s3.close();
});

async function upload(
  key: string,
  bytes: Buffer,
  options: { checksum?: S3ChecksumAlgorithm | false; concurrency?: number | 'auto'; chunk?: number } = {},
): Promise<BufferedHttpWritable> {
  const writable = new BufferedHttpWritable(s3.url(key), {
    mode: 's3',
    highWaterMark: PART,
    ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
    s3: { credentials: CREDENTIALS, region: REGION, ...(options.checksum === undefined ? {} : { checksum: options.checksum }) },
  });
  const chunk = options.chunk ?? 64 * 1024;
  const pieces = (function* () {
    for (let at = 0; at < bytes.length; at += chunk) yield bytes.subarray(at, at + chunk);
  })();
  await pipeline(Readable.from(pieces), writable);
  return writable;
}

function calls(): string[] {
  return s3.requests.map((request) => {
    const { query } = request;
    if (request.method === 'POST' && 'uploads' in query) return 'create';
    if (request.method === 'PUT' && query.partNumber) return `part ${query.partNumber} ${request.size}`;
    if (request.method === 'POST' && query.uploadId) return 'complete';
    if (request.method === 'PUT') return `put ${request.size}`;
    return `${request.method} ${request.url}`;
  });
}

/** The parts S3 stored, by number: their sizes. */
function partSizes(): number[] {
  return s3.requests
    .filter((request) => request.query.partNumber)
    .sort((a, b) => Number(a.query.partNumber) - Number(b.query.partNumber))
    .map((request) => request.size);
}

describe('object sizes', () => {
  test('an empty body is one PutObject of nothing', async () => {
    await upload('empty', Buffer.alloc(0));
    expect(calls()).toEqual(['put 0']);
    expect(await s3.object('empty')).toEqual(Buffer.alloc(0));
    expect(s3.problems).toEqual([]);
  });

  test('a body under one part is one PutObject, with its Content-Type and metadata', async () => {
    const bytes = content(PART - 1, 2);
    const writable = new BufferedHttpWritable(s3.url('small.bin'), {
      mode: 's3',
      highWaterMark: PART,
      s3: { credentials: CREDENTIALS, region: REGION, contentType: 'application/x-test', metadata: { origin: 'bhw' } },
    });
    await pipeline(Readable.from([bytes]), writable);
    expect(calls()).toEqual([`put ${PART - 1}`]);
    expect(s3.requests[0]!.headers['content-type']).toBe('application/x-test');
    expect(s3.requests[0]!.headers['x-amz-meta-origin']).toBe('bhw');
    expect(writable.response?.statusCode).toBe(200);
    expect(sha256((await s3.object('small.bin'))!)).toBe(sha256(bytes));
    expect(s3.problems).toEqual([]);
  });

  test('exactly one part is a multipart upload of one part', async () => {
    const bytes = content(PART, 3);
    await upload('one-part', bytes);
    expect(calls()).toEqual(['create', `part 1 ${PART}`, 'complete']);
    expect(sha256((await s3.object('one-part'))!)).toBe(sha256(bytes));
    expect(s3.problems).toEqual([]);
  });

  test.each<[S3ChecksumAlgorithm | false, number | 'auto']>([
    ['crc32', 4],
    ['crc32c', 'auto'],
    ['sha256', 2],
    [false, 1],
  ])('several parts and a short last, checksum %s, concurrency %s', async (checksum, concurrency) => {
    const size = 3 * PART + 12_345;
    const bytes = content(size, 4);
    await upload(`parts-${String(checksum)}`, bytes, { checksum, concurrency, chunk: 1 << 20 });
    expect(calls().sort()).toEqual(['complete', 'create', `part 1 ${PART}`, `part 2 ${PART}`, `part 3 ${PART}`, 'part 4 12345'].sort());
    const parts = s3.requests.filter((request) => request.query.partNumber);
    const header = checksum ? `x-amz-checksum-${checksum}` : undefined;
    for (const part of parts) {
      if (header) expect(part.headers[header]).toBeDefined();
      expect(part.headers['x-amz-content-sha256']).toEqual(
        checksum === 'crc32' || checksum === 'crc32c' ? 'UNSIGNED-PAYLOAD' : expect.stringMatching(/^[0-9a-f]{64}$/),
      );
    }
    expect(s3.requests.every((request) => request.signatureValid)).toBe(true);
    expect(sha256((await s3.object(`parts-${String(checksum)}`))!)).toBe(sha256(bytes));
    expect(s3.problems).toEqual([]);
  });
});

describe('parts of at least 5 MiB, whatever the writes', () => {
  test('a write larger than a part after a small one: every part but the last is a full part', async () => {
    const bytes = content(3 * PART + 777, 5);
    const writable = new BufferedHttpWritable(s3.url('mixed-writes'), { mode: 's3', highWaterMark: PART, s3: { credentials: CREDENTIALS, region: REGION } });
    // 100 KiB, then 2.5 parts in one write, then the rest.
    const cuts = [0, 100 * 1024, 100 * 1024 + (5 * PART) / 2, bytes.length];
    await pipeline(Readable.from(cuts.slice(1).map((end, i) => bytes.subarray(cuts[i], end))), writable);
    // 100 KiB topped up to a part, the rest of the large write as one part, then the rest.
    expect(partSizes()).toEqual([PART, 100 * 1024 + (5 * PART) / 2 - PART, bytes.length - (100 * 1024 + (5 * PART) / 2)]);
    expect(sha256((await s3.object('mixed-writes'))!)).toBe(sha256(bytes));
  });

  test('flush() sends no short part: it waits for the parts in flight', async () => {
    const bytes = content(2 * PART + 5, 6);
    const writable = new BufferedHttpWritable(s3.url('flushed'), { mode: 's3', highWaterMark: PART, s3: { credentials: CREDENTIALS, region: REGION } });
    // A full part, then 100 bytes waiting in the next buffer when flush() comes.
    writable.write(bytes.subarray(0, PART - 50));
    writable.write(bytes.subarray(PART - 50, PART + 100));
    await writable.flush();
    writable.end(bytes.subarray(PART + 100));
    await new Promise((resolve, reject) => writable.on('finish', resolve).on('error', reject));
    expect(partSizes()).toEqual([PART, PART, 5]);
    expect(sha256((await s3.object('flushed'))!)).toBe(sha256(bytes));
  });
});
