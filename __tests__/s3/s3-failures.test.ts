/**
 * What goes wrong between the writer and S3: a part cut mid-request, a part
 * S3 says arrived damaged (BadDigest), a Complete that answers 200 with an
 * `<Error>`, a refusal that ends the upload, an abort. Each part is resent
 * alone; what fails says which upload and which parts were stored; nothing
 * incomplete becomes an object; no credential is ever shown.
 */
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BufferedHttpWritable, HttpStatusError, ProtocolError, uploadFile, type BufferedHttpWritableError, type S3Credentials } from '../../lib/index.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { CREDENTIALS, REGION, content, sha256, startS3, type S3Fixture } from './s3-harness.js';

const PART = 5 * 1024 * 1024;
const FAST_RETRY = { backoffLimit: 20 };

let s3: S3Fixture;
let faults: FaultProxy | undefined;
beforeEach(async () => {
  s3 = await startS3();
});
afterEach(async () => {
  await faults?.close();
  faults = undefined;
  await s3.close();
});

function writer(
  url: string,
  credentials: S3Credentials | (() => Promise<S3Credentials>) = CREDENTIALS,
  extra: { signal?: AbortSignal } = {},
): BufferedHttpWritable {
  return new BufferedHttpWritable(url, { mode: 's3', highWaterMark: PART, concurrency: 1, retry: FAST_RETRY, s3: { credentials, region: REGION }, ...extra });
}

function source(bytes: Buffer, chunk = 1 << 20): Readable {
  return Readable.from(
    (function* () {
      for (let at = 0; at < bytes.length; at += chunk) yield bytes.subarray(at, at + chunk);
    })(),
  );
}

/** How many requests S3 (through the witness) saw for each part number. */
function partCounts(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const request of s3.requests) if (request.query.partNumber) counts[request.query.partNumber] = (counts[request.query.partNumber] ?? 0) + 1;
  return counts;
}

const badDigest =
  '<?xml version="1.0" encoding="UTF-8"?><Error><Code>BadDigest</Code><Message>The CRC32 you specified did not match the calculated checksum.</Message></Error>';

describe('a part that fails is resent alone', () => {
  test('a connection cut in the middle of part 2: only part 2 goes again, and the object is exact', async () => {
    faults = await startFaultProxy(s3.endpoint);
    faults.cutAt([PART + PART / 2]);
    const bytes = content(3 * PART + 1000, 11);
    await pipeline(source(bytes), writer(s3.url('cut', faults.origin)));
    expect(faults.faults).toBe(1);
    // The cut request never reached S3 whole; each part was stored once.
    expect(partCounts()).toEqual({ 1: 1, 2: 1, 3: 1, 4: 1 });
    expect(sha256((await s3.object('cut'))!)).toBe(sha256(bytes));
    expect(s3.problems).toEqual([]);
  });

  test('a 400 BadDigest for part 2: part 2 is resent, the others are not', async () => {
    let refused = 0;
    s3.answer = (request) => (request.query.partNumber === '2' && refused++ === 0 ? { status: 400, body: badDigest } : undefined);
    const bytes = content(3 * PART, 12);
    await pipeline(source(bytes), writer(s3.url('bad-digest')));
    expect(partCounts()).toEqual({ 1: 1, 2: 2, 3: 1 });
    expect(sha256((await s3.object('bad-digest'))!)).toBe(sha256(bytes));
  });

  test('Complete answered 200 with <Error><Code>InternalError</Code>: Complete is sent again', async () => {
    let failed = 0;
    s3.answer = (request) =>
      request.method === 'POST' && request.query.uploadId && failed++ === 0
        ? {
            status: 200,
            body: '<?xml version="1.0"?>\n<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>',
          }
        : undefined;
    const bytes = content(PART + 10, 13);
    const upload = writer(s3.url('complete-retried'));
    await pipeline(source(bytes), upload);
    expect(failed).toBe(2);
    expect(upload.response?.body).toContain('CompleteMultipartUploadResult');
    expect(sha256((await s3.object('complete-retried'))!)).toBe(sha256(bytes));
  });
});

describe('a failure ends the upload and says where it stood', () => {
  test("Complete answered 200 with an <Error> S3 does not retry: no 'finish', a ProtocolError naming the upload and its parts", async () => {
    s3.answer = (request) =>
      request.method === 'POST' && request.query.uploadId
        ? { status: 200, body: '<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>' }
        : undefined;
    const upload = writer(s3.url('complete-refused'));
    let finished = false;
    upload.on('finish', () => (finished = true));
    const error = (await pipeline(source(content(2 * PART + 1, 14)), upload).catch((caught: unknown) => caught)) as BufferedHttpWritableError;
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error.message).toMatch(/CompleteMultipartUpload answered 200 with an S3 error, AccessDenied/);
    expect(error.uploadId).toEqual(expect.any(String));
    expect(error.partsStored).toEqual([1, 2, 3]);
    expect(finished).toBe(false);
    expect(await s3.object('complete-refused')).toBeUndefined();
  });

  test('a part refused with 403: the error names the upload id and the parts stored, AbortMultipartUpload is sent, no object', async () => {
    s3.answer = (request) => (request.query.partNumber === '3' ? { status: 403, body: '<Error><Code>AccessDenied</Code></Error>' } : undefined);
    const error = (await pipeline(source(content(4 * PART, 15)), writer(s3.url('refused'))).catch((caught: unknown) => caught)) as HttpStatusError;
    expect(error).toBeInstanceOf(HttpStatusError);
    expect(error.statusCode).toBe(403);
    const created = s3.requests.find((request) => 'uploads' in request.query);
    expect(created).toBeDefined();
    expect(error.uploadId).toMatch(/\S/);
    expect(error.partsStored).toEqual([1, 2]);
    // Asked before the error came out (s3rver answers AbortMultipartUpload with 405, so its parts stay on its disk).
    expect(s3.requests.filter((request) => request.method === 'DELETE').map((request) => request.query.uploadId)).toEqual([error.uploadId]);
    expect(await s3.object('refused')).toBeUndefined();
  });

  test('an abort mid-upload: the error says the upload id and the parts stored; no object is completed', async () => {
    const aborter = new AbortController();
    const upload = writer(s3.url('aborted'), CREDENTIALS, { signal: aborter.signal });
    upload.on('progress', (progress) => {
      if (progress.bytesAcknowledged >= 2 * PART) aborter.abort();
    });
    const error = (await pipeline(source(content(6 * PART, 16)), upload).catch((caught: unknown) => caught)) as BufferedHttpWritableError;
    expect(error.name).toBe('AbortError');
    expect(error.uploadId).toMatch(/\S/);
    expect(error.partsStored).toEqual(expect.arrayContaining([1, 2]));
    expect(s3.requests.some((request) => request.method === 'POST' && request.query.uploadId)).toBe(false);
    expect(await s3.object('aborted')).toBeUndefined();
  });

  test('uploadFile aborted mid-upload: its error says the upload id and the parts stored too', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bhw-s3-abort-'));
    try {
      const file = join(dir, 'six-parts.bin');
      await writeFile(file, content(6 * PART, 17));
      const aborter = new AbortController();
      const error = (await uploadFile(file, s3.url('aborted-file'), {
        mode: 's3',
        highWaterMark: PART,
        concurrency: 1,
        s3: { credentials: CREDENTIALS, region: REGION },
        signal: aborter.signal,
        onProgress: (progress) => {
          if (progress.bytesAcknowledged >= 2 * PART) aborter.abort();
        },
      }).catch((caught: unknown) => caught)) as BufferedHttpWritableError;
      expect(error.name).toBe('AbortError');
      expect(error.uploadId).toMatch(/\S/);
      expect(error.partsStored).toEqual(expect.arrayContaining([1, 2]));
      expect(await s3.object('aborted-file')).toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('credentials', () => {
  const session = { ...CREDENTIALS, sessionToken: 'bhw-session-token-0123456789SESSION' };
  const echoing = (): S3Fixture['answer'] => (request) =>
    request.query.partNumber === '2'
      ? {
          status: 403,
          body: `<Error><Code>SignatureDoesNotMatch</Code><Debug>${session.secretAccessKey} ${session.sessionToken} ${String(request.headers.authorization)}</Debug></Error>`,
        }
      : undefined;

  test.each([
    ['an object', (): S3Credentials | (() => Promise<S3Credentials>) => session],
    ['a provider function', (): S3Credentials | (() => Promise<S3Credentials>) => () => Promise.resolve(session)],
  ])('given as %s: signed with the session token, never shown in an error, even one that echoes them', async (_name, credentials) => {
    s3.answer = echoing();
    const error = (await pipeline(source(content(3 * PART, 17)), writer(s3.url('secret'), credentials())).catch(
      (caught: unknown) => caught,
    )) as HttpStatusError;
    expect(error).toBeInstanceOf(HttpStatusError);
    expect(s3.requests[0]!.headers['x-amz-security-token']).toBe(session.sessionToken);
    expect(s3.problems).toEqual([]);
    const shown = `${error.message}\n${error.stack}\n${JSON.stringify(error)}\n${error.body}`;
    expect(shown).toContain('SignatureDoesNotMatch');
    expect(shown).not.toContain(session.secretAccessKey);
    expect(shown).not.toContain(session.sessionToken);
  });

  test('the witness is not fooled: a request signed with another secret is reported', async () => {
    await pipeline(source(content(10, 18)), writer(s3.url('wrong-key'), { ...CREDENTIALS, secretAccessKey: 'not-the-secret' }));
    expect(s3.problems).toEqual([expect.stringMatching(/signature does not match/)]);
  });
});

describe('a server that breaks the protocol: a ProtocolError, never a guess', () => {
  test.each<[string, (request: Parameters<NonNullable<S3Fixture['answer']>>[0]) => { status: number; body: string } | undefined, RegExp]>([
    [
      'Create without an UploadId',
      (request) => ('uploads' in request.query ? { status: 200, body: '<InitiateMultipartUploadResult></InitiateMultipartUploadResult>' } : undefined),
      /CreateMultipartUpload answered without an UploadId/,
    ],
    ['a part without an ETag', (request) => (request.query.partNumber ? { status: 200, body: '' } : undefined), /UploadPart 1 answered without an ETag/],
    [
      'Complete with another document',
      (request) => (request.method === 'POST' && request.query.uploadId ? { status: 200, body: '<Something/>' } : undefined),
      /CompleteMultipartUpload answered 200 without the <CompleteMultipartUploadResult> document/,
    ],
  ])('%s', async (_name, answer, message) => {
    s3.answer = answer;
    const error = (await pipeline(source(content(PART + 1, 19)), writer(s3.url('broken'))).catch((caught: unknown) => caught)) as Error;
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error.message).toMatch(message);
  });
});

describe('a credentials provider', () => {
  test('temporary credentials about to expire are asked again for each request', async () => {
    let calls = 0;
    const provider = (): Promise<S3Credentials> => {
      calls++;
      return Promise.resolve({ ...CREDENTIALS, expiration: new Date(Date.now() + 60_000) });
    };
    await pipeline(source(content(2 * PART, 20)), writer(s3.url('expiring'), provider));
    expect(calls).toBeGreaterThanOrEqual(s3.requests.length);
    expect(s3.problems).toEqual([]);
  });

  test('credentials kept until they expire: asked once', async () => {
    let calls = 0;
    const provider = (): Promise<S3Credentials> => {
      calls++;
      return Promise.resolve({ ...CREDENTIALS, expiration: new Date(Date.now() + 3_600_000) });
    };
    await pipeline(source(content(2 * PART, 21)), writer(s3.url('lasting'), provider));
    expect(calls).toBe(1);
  });

  test('a provider answering something else than credentials fails the upload, naming the field, not its value', async () => {
    const provider = (): Promise<S3Credentials> => Promise.resolve({ accessKeyId: 'AKID', secretAccessKey: '' });
    const error = (await pipeline(source(content(10, 22)), writer(s3.url('bad-provider'), provider)).catch((caught: unknown) => caught)) as Error;
    expect(error.message).toMatch(/s3.credentials.secretAccessKey must be a non-empty string/);
    expect(s3.requests).toEqual([]);
  });
});
