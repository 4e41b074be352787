import { afterEach, describe, expect, test } from '@jest/globals';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import got from 'got';
import { BufferedHttpWritable, ResumeGapError, fetchTusOffset, type BufferedHttpWritableError } from '../../lib/index.js';
import { chunksOf, pattern, readableOf } from '../helpers/data.js';
import { readBody, sha256, startSink, type Sink } from '../helpers/sink-server.js';

/**
 * A hand-written tus server (one upload at /files/1) that keeps the protocol
 * unless a hook answers first: lets a test forge what a real server never says.
 */
interface FakeTus {
  sink: Sink;
  url: string;
  stored: Buffer[];
  offset(): number;
  methods: string[];
}

interface Hooks {
  /** Answer the n-th PATCH (0-based) yourself; return true when answered. */
  patch?(n: number, request: IncomingMessage, response: ServerResponse, tus: FakeTus): boolean | Promise<boolean>;
  /** The Upload-Offset a HEAD reports (default: the true one). */
  headOffset?(n: number, tus: FakeTus): number;
}

async function startFakeTus(hooks: Hooks = {}): Promise<FakeTus> {
  let patches = 0;
  let heads = 0;
  const tus: FakeTus = {
    sink: undefined as unknown as Sink,
    url: '',
    stored: [],
    offset: () => tus.stored.reduce((sum, part) => sum + part.length, 0),
    methods: [],
  };
  tus.sink = await startSink((request, response) => {
    void (async () => {
      tus.methods.push(request.method!);
      if (request.method === 'POST') {
        response.writeHead(201, { location: '/files/1', 'tus-resumable': '1.0.0' }).end();
      } else if (request.method === 'HEAD') {
        const offset = hooks.headOffset?.(heads++, tus) ?? tus.offset();
        response.writeHead(200, { 'upload-offset': String(offset), 'upload-defer-length': '1', 'tus-resumable': '1.0.0' }).end();
      } else if (request.method === 'PATCH') {
        if (await hooks.patch?.(patches++, request, response, tus)) return;
        const body = await readBody(request);
        if (Number(request.headers['upload-offset']) !== tus.offset()) {
          response.writeHead(409).end('offset mismatch');
          return;
        }
        tus.stored.push(body);
        response.writeHead(204, { 'upload-offset': String(tus.offset()), 'tus-resumable': '1.0.0' }).end();
      } else {
        response.writeHead(405).end();
      }
    })();
  });
  tus.url = `${tus.sink.url}/files`;
  return tus;
}

/** Reads a PATCH body and answers nothing: the connection is cut. */
async function cut(request: IncomingMessage): Promise<boolean> {
  request.socket.destroy();
  return true;
}

const highWaterMark = 1000;
const quickRetry = { backoffLimit: 2 };

/** Writes `data` in buffer-sized writes (one PATCH each), then ends. */
function writeAll(upload: BufferedHttpWritable, data: Buffer): void {
  for (const chunk of chunksOf(data, [highWaterMark])) upload.write(chunk);
  upload.end();
}

function failure(upload: BufferedHttpWritable): Promise<BufferedHttpWritableError> {
  return new Promise((resolve, reject) => {
    upload.on('error', resolve);
    upload.on('finish', () => reject(new Error('finished although it should have failed')));
  });
}

describe('tus mode and a server that answers oddly', () => {
  let tus: FakeTus | undefined;
  afterEach(async () => {
    await tus?.sink.close();
    tus = undefined;
  });

  test.each([
    ['behind the bytes still held', 0],
    ['ahead of the bytes sent', 5 * highWaterMark],
  ])('a HEAD offset %s fails with ERR_BHW_RESUME_GAP, never a guess', async (_label, forged) => {
    // PATCH 0 is stored; PATCH 1 is cut; the HEAD that follows lies.
    tus = await startFakeTus({ patch: (n, request) => (n === 1 ? cut(request) : false), headOffset: () => forged });
    const upload = new BufferedHttpWritable(tus.url, { mode: 'tus', highWaterMark, retry: quickRetry });
    const failed = failure(upload);
    writeAll(upload, pattern(3 * highWaterMark));
    const error = await failed;
    expect(error).toBeInstanceOf(ResumeGapError);
    expect(error.code).toBe('ERR_BHW_RESUME_GAP');
    expect(error.offset).toBe(forged);
    expect(error.uploadUrl).toBe(`${tus.sink.url}/files/1`);
    expect((error as ResumeGapError).heldFrom).toBe(highWaterMark);
    expect((error as ResumeGapError).heldTo).toBe(2 * highWaterMark);
    expect(error.bytesAcknowledged).toBe(highWaterMark);
    // Nothing was resent after the lie.
    expect(tus.methods.filter((method) => method === 'PATCH')).toHaveLength(2);
  });

  test('a 409 (stale offset) is answered by HEAD and a resend from the server offset', async () => {
    tus = await startFakeTus({
      patch: async (n, request, response) => {
        if (n !== 1) return false;
        await readBody(request);
        response.writeHead(409).end();
        return true;
      },
    });
    const data = pattern(3 * highWaterMark + 1);
    const upload = new BufferedHttpWritable(tus.url, { mode: 'tus', highWaterMark, retry: quickRetry });
    await pipeline(readableOf(chunksOf(data, [100])), upload);
    expect(sha256(Buffer.concat(tus.stored))).toBe(sha256(data));
    expect(tus.methods).toEqual(['POST', 'PATCH', 'PATCH', 'HEAD', 'PATCH', 'PATCH', 'PATCH']);
  });

  test('a 503 with Retry-After is retried; one beyond maxRetryAfter fails with ERR_BHW_RETRY_AFTER', async () => {
    tus = await startFakeTus({
      patch: async (n, request, response) => {
        if (n > 1) return false;
        await readBody(request);
        response.writeHead(503, { 'retry-after': n === 0 ? '0' : '3600' }).end('busy');
        return true;
      },
    });
    const upload = new BufferedHttpWritable(tus.url, { mode: 'tus', highWaterMark, retry: quickRetry });
    const failed = failure(upload);
    upload.end(pattern(highWaterMark));
    const error = await failed;
    expect(error.code).toBe('ERR_BHW_RETRY_AFTER');
    expect(error.offset).toBe(0);
    expect(error.uploadUrl).toBe(`${tus.sink.url}/files/1`);
    expect(tus.methods).toEqual(['POST', 'PATCH', 'HEAD', 'PATCH']);
  });

  test('a 404 on PATCH is not retried', async () => {
    tus = await startFakeTus({
      patch: async (_n, request, response) => {
        await readBody(request);
        response.writeHead(404).end('no such upload');
        return true;
      },
    });
    const upload = new BufferedHttpWritable(tus.url, { mode: 'tus', highWaterMark, retry: quickRetry });
    const failed = failure(upload);
    upload.end(pattern(10));
    const error = await failed;
    expect(error.code).toBe('ERR_BHW_HTTP_STATUS');
    expect((error as BufferedHttpWritableError & { statusCode: number }).statusCode).toBe(404);
    expect(tus.methods).toEqual(['POST', 'PATCH']);
  });

  test('a creation answer without Location fails with ERR_BHW_PROTOCOL', async () => {
    const sink = await startSink((_request, response) => {
      response.writeHead(201).end();
    });
    try {
      const upload = new BufferedHttpWritable(sink.url, { mode: 'tus' });
      const failed = failure(upload);
      upload.end('x');
      expect((await failed).code).toBe('ERR_BHW_PROTOCOL');
    } finally {
      await sink.close();
    }
  });

  test('a creation answered 503 is retried, honouring a Retry-After date', async () => {
    let posts = 0;
    const sink = await startSink((request, response) => {
      if (request.method === 'POST' && posts++ === 0) {
        response.writeHead(503, { 'retry-after': new Date(Date.now() - 1000).toUTCString() }).end();
      } else if (request.method === 'POST') {
        response.writeHead(201, { location: '/files/1' }).end();
      } else {
        void readBody(request).then((body) => response.writeHead(204, { 'upload-offset': String(body.length) }).end());
      }
      return undefined;
    });
    try {
      const upload = new BufferedHttpWritable(sink.url, { mode: 'tus', retry: quickRetry });
      upload.end('abc');
      await new Promise((resolve, reject) => upload.on('finish', resolve).on('error', reject));
      expect(posts).toBe(2);
      expect(upload.bytesAcknowledged).toBe(3);
    } finally {
      await sink.close();
    }
  });

  test('a 2xx PATCH that stores nothing counts as a failure until the limit', async () => {
    tus = await startFakeTus({
      patch: async (_n, request, response) => {
        await readBody(request);
        response.writeHead(204, { 'upload-offset': '0' }).end();
        return true;
      },
    });
    const upload = new BufferedHttpWritable(tus.url, { mode: 'tus', retry: { limit: 1, backoffLimit: 2 } });
    const failed = failure(upload);
    upload.end('abc');
    const error = await failed;
    expect(error.code).toBe('ERR_BHW_PROTOCOL');
    expect(tus.methods).toEqual(['POST', 'PATCH', 'HEAD', 'PATCH']);
  });

  test('a HEAD answer without Upload-Offset fails with ERR_BHW_PROTOCOL', async () => {
    tus = await startFakeTus({ patch: (n, request) => (n === 0 ? cut(request) : false), headOffset: () => Number.NaN });
    const upload = new BufferedHttpWritable(tus.url, { mode: 'tus', retry: quickRetry });
    const failed = failure(upload);
    upload.end('abc');
    expect((await failed).code).toBe('ERR_BHW_PROTOCOL');
  });

  test('fetchTusOffset of a server that is gone fails with ERR_BHW_NETWORK', async () => {
    const sink = await startSink();
    const url = `${sink.url}/files/1`;
    await sink.close();
    await expect(fetchTusOffset(url, { got: got.extend({ retry: { limit: 0 } }), retry: { limit: 0 } })).rejects.toMatchObject({
      code: 'ERR_BHW_NETWORK',
      uploadUrl: url,
    });
  });
});
