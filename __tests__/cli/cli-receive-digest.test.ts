import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { startReceiveServer, type ReceiveServer } from '../../cli/receive-server.js';
import { MAX_CHECKSUM_BODY_BYTES } from '../../cli/receive-tus-checksum.js';
import { pattern } from '../helpers/data.js';

let dir: string;
let server: ReceiveServer;
let log: string[];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bhw-receive-digest-'));
  log = [];
  server = await startReceiveServer({ dir: join(dir, 'store'), log: (line) => log.push(line) });
});
afterEach(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

/** An RFC 9530 dictionary member as a structured field writes it: `sha-256=:<base64>:`. */
function digestOf(algorithm: 'sha-256' | 'sha-512', bytes: Buffer): string {
  return `${algorithm}=:${createHash(algorithm.replace('-', '')).update(bytes).digest('base64')}:`;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request by node:http, the body in one write, then trailers when given (chunked, announced with `Trailer:`). */
function send(path: string, headers: Record<string, string>, body: Buffer, trailers?: Record<string, string>, method = 'POST'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(`${server.url}${path}`, { method, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body: Buffer.concat(chunks).toString() }));
    });
    request.on('error', reject);
    request.write(body);
    if (trailers) request.addTrailers(trailers);
    request.end();
  });
}

const chunked = (trailer: string): Record<string, string> => ({ 'transfer-encoding': 'chunked', trailer });
/** What the storage directory holds besides the tus store: upload files, and any temporary file left behind. */
const stored = async (): Promise<string[]> => (await readdir(server.dir)).filter((name) => name !== 'tus').sort();

describe('bhw receive verifies RFC 9530 digests on stream uploads', () => {
  const body = pattern(100_000, 3);

  test('a matching Content-Digest header: stored, and the answer says what was verified', async () => {
    const answer = await send('/s', { 'content-digest': digestOf('sha-256', body) }, body);

    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ bytes: body.length, file: 'stream-1.bin', verified: ['Content-Digest sha-256'] });
    expect((await readFile(join(server.dir, 'stream-1.bin'))).equals(body)).toBe(true);
    expect(log[0]).toMatch(/Content-Digest sha-256 verified -> stream-1\.bin$/);
  });

  test('a Content-Digest header that does not match: 400 problem details naming it, and nothing stored', async () => {
    const answer = await send('/s', { 'content-digest': digestOf('sha-256', pattern(100_000, 4)) }, body);

    expect(answer.status).toBe(400);
    expect(answer.headers['content-type']).toBe('application/problem+json');
    expect(JSON.parse(answer.body)).toMatchObject({ status: 400, title: 'Digest mismatch', field: 'Content-Digest', algorithm: 'sha-256', section: 'header' });
    expect(await stored()).toEqual([]);
  });

  test('a trailer Content-Digest that does not match: 400, nothing stored', async () => {
    const bad = Buffer.from(body);
    bad[5000] = bad[5000]! ^ 1;
    const answer = await send('/s', chunked('Content-Digest'), body, { 'Content-Digest': digestOf('sha-256', bad) });

    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toMatchObject({ field: 'Content-Digest', algorithm: 'sha-256', section: 'trailer' });
    expect(JSON.parse(answer.body).detail).toMatch(/Content-Digest sha-256 \(in a trailer\) does not match the 100000 bytes received/);
    expect(await stored()).toEqual([]);
  });

  test('sha-512 Content-Digest and Repr-Digest in trailers, both matching: stored', async () => {
    const answer = await send('/s', chunked('Content-Digest, Repr-Digest'), body, {
      'Content-Digest': digestOf('sha-512', body),
      'Repr-Digest': `${digestOf('sha-512', body)}, md5=:AAAA:`,
    });

    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body).verified).toEqual(['Content-Digest sha-512 (trailer)', 'Repr-Digest sha-512 (trailer)']);
    expect(await stored()).toEqual(['stream-1.bin']);
  });

  test('a digest field that is not a structured dictionary is refused as invalid', async () => {
    const answer = await send('/s', { 'repr-digest': 'sha-256=not-base64' }, body);
    // A dictionary, but the value is not a byte sequence.
    const integer = await send('/s', { 'content-digest': 'sha-512=1' }, body);
    const unterminated = await send('/s', { 'content-digest': 'sha-256=:AAAA' }, body);

    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toMatchObject({ title: 'Invalid digest field', field: 'Repr-Digest' });
    expect(integer.status).toBe(400);
    expect(JSON.parse(integer.body)).toMatchObject({ title: 'Invalid digest field', field: 'Content-Digest' });
    expect(JSON.parse(unterminated.body)).toMatchObject({ title: 'Invalid digest field', field: 'Content-Digest' });
    expect(await stored()).toEqual([]);
  });

  test('a digest trailer not announced with Trailer: stored, and logged as not verified', async () => {
    const answer = await send('/s', { 'transfer-encoding': 'chunked' }, body, { 'Content-Digest': digestOf('sha-256', body) });

    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body).verified).toBeUndefined();
    expect(log[0]).toMatch(/Content-Digest sha-256 \(trailer\) not verified \(trailer not announced\)/);
  });
});

describe('bhw receive verifies RFC 9530 digests on batches', () => {
  const first = Buffer.from('first record\n');
  const second = pattern(20_000, 5);
  const batch = (sequence: number, offset: number): Record<string, string> => ({
    'batch-sequence': String(sequence),
    'batch-offset': String(offset),
    'idempotency-key': `up-${sequence}`,
  });

  test('gzip: the digest is of the body as sent; a bad one leaves the upload file as it was, a good resend lands', async () => {
    expect((await send('/b', { ...batch(0, 0), 'content-digest': digestOf('sha-256', first) }, first)).status).toBe(200);
    const gzipped = gzipSync(second);
    const wrong = await send('/b', { ...batch(1, first.length), 'content-encoding': 'gzip', 'content-digest': digestOf('sha-256', second) }, gzipped);

    expect(wrong.status).toBe(400);
    expect(JSON.parse(wrong.body)).toMatchObject({ field: 'Content-Digest', algorithm: 'sha-256' });
    expect((await readFile(join(server.dir, 'batch-up.bin'))).equals(first)).toBe(true);

    // The same Idempotency-Key again, right this time: stored, not dropped as a duplicate.
    const right = await send('/b', { ...batch(1, first.length), 'content-encoding': 'gzip', ...chunked('Repr-Digest') }, gzipped, {
      'Repr-Digest': digestOf('sha-512', gzipped),
    });
    expect(right.status).toBe(200);
    expect(JSON.parse(right.body)).toMatchObject({ bytes: second.length, verified: ['Repr-Digest sha-512 (trailer)'] });
    expect((await readFile(join(server.dir, 'batch-up.bin'))).equals(Buffer.concat([first, second]))).toBe(true);
    expect(await stored()).toEqual(['batch-up.bin']);
  });
});

describe('bhw receive verifies tus Upload-Checksum', () => {
  const tus = { 'tus-resumable': '1.0.0' };
  const patch = (offset: number): Record<string, string> => ({ ...tus, 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' });

  async function create(length: number): Promise<string> {
    const answer = await send('/tus', { ...tus, 'upload-length': String(length) }, Buffer.alloc(0));
    return new URL(answer.headers.location!).pathname;
  }

  test('OPTIONS lists checksum and its algorithms', async () => {
    // Upload-Checksum on a request without a body is not checked: it goes to @tus/server as it is.
    const answer = await send('/tus', { 'upload-checksum': 'sha256 AAAA' }, Buffer.alloc(0), undefined, 'OPTIONS');
    expect(answer.status).toBe(204);
    expect(String(answer.headers['tus-extension']).split(',')).toContain('checksum');
    expect(answer.headers['tus-checksum-algorithm']).toBe('sha256,sha512');
  });

  test('a PATCH whose bytes do not match is answered 460 and the offset stays; an unknown algorithm is 400', async () => {
    const path = await create(10);
    const body = Buffer.from('0123456789');
    const checksum = (bytes: Buffer): string => `sha512 ${createHash('sha512').update(bytes).digest('base64')}`;

    const wrong = await send(path, { ...patch(0), 'upload-checksum': checksum(Buffer.from('0123456788')) }, body, undefined, 'PATCH');
    expect(wrong.status).toBe(460);
    expect(wrong.body).toMatch(/Upload-Checksum sha512 does not match the 10 bytes received/);
    const head = await send(path, tus, Buffer.alloc(0), undefined, 'HEAD');
    expect(head.headers['upload-offset']).toBe('0');

    const unknown = await send(path, { ...patch(0), 'upload-checksum': 'md5 AAAA' }, body, undefined, 'PATCH');
    expect(unknown.status).toBe(400);

    const right = await send(path, { ...patch(0), 'upload-checksum': checksum(body) }, body, undefined, 'PATCH');
    expect(right.status).toBe(200);
    expect(right.headers['upload-offset']).toBe('10');
    expect(await readFile(join(server.dir, 'tus', path.split('/').at(-1)!), 'utf8')).toBe('0123456789');
  });

  test('a checksummed PATCH larger than --max-bytes is refused with 413: declared, at once; chunked, once it passes', async () => {
    await server.close();
    server = await startReceiveServer({ dir: join(dir, 'small'), maxBytes: 1000, log: () => {} });
    const path = await create(10);
    const refused = (headers: Record<string, string>, body?: Buffer): Promise<Answer> =>
      new Promise((resolve, reject) => {
        const request = httpRequest(
          `${server.url}${path}`,
          { method: 'PATCH', headers: { ...patch(0), 'upload-checksum': 'sha256 AAAA', ...headers } },
          (response) => {
            let text = '';
            response.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
            response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body: text }));
          },
        );
        // The server closes as soon as it answers: the rest of the body may meet a closed socket.
        request.on('error', (error: NodeJS.ErrnoException) => (['EPIPE', 'ECONNRESET'].includes(error.code!) ? undefined : reject(error)));
        if (body) request.end(body);
        else request.flushHeaders();
      });

    const declared = await refused({ 'content-length': '1001' });
    const chunkedBody = await refused({ 'transfer-encoding': 'chunked' }, pattern(5000));
    for (const answer of [declared, chunkedBody]) {
      expect(answer.status).toBe(413);
      expect(answer.body).toBe('a checksummed request takes at most 1000 bytes\n');
    }
    expect(MAX_CHECKSUM_BODY_BYTES).toBeGreaterThan(1000);
  });
});
