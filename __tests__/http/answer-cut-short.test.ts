/**
 * An answer cut short after the server read the whole request body is a
 * network failure that says so, in every mode alike: not an early answer
 * (the server did have the whole body) and not a bare ECONNRESET.
 *
 * The server is a real HTTP server that reads the whole request body, then
 * writes, on the raw socket, a status line and headers announcing 100 bytes
 * of body, 10 of them, and closes the connection.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { BufferedHttpWritable, NetworkError } from '../../lib/index.js';
import { pattern, readableOf } from '../helpers/data.js';
import { readBody, sha256 } from '../helpers/sink-server.js';

const CUT_MESSAGE = 'The connection closed while the answer was being read, after the whole request body was sent';
const BODY_BYTES = 3000;
const highWaterMark = 1024;

interface CuttingServer {
  url: string;
  /** Every request as it arrived, once its body was read. */
  requests: Array<{ method: string; headers: IncomingHttpHeaders; bytes: number; sha256: string }>;
  close(): Promise<void>;
}

/**
 * Cuts the answer to the first `cuts` requests with a body (batch POSTs, tus
 * PATCHes, the stream upload), and answers the later ones whole. For tus it
 * creates the upload (201 with a Location) and answers HEAD with offset 0:
 * the server stored nothing of a cut PATCH.
 */
async function startCuttingServer({ cuts = Number.POSITIVE_INFINITY } = {}): Promise<CuttingServer> {
  const requests: CuttingServer['requests'] = [];
  let cut = 0;
  const server: Server = createServer((request, response) => {
    void readBody(request).then((body) => {
      requests.push({ method: request.method ?? '', headers: request.headers, bytes: body.length, sha256: sha256(body) });
      const tus = { 'tus-resumable': '1.0.0' };
      if (request.method === 'POST' && request.url === '/files') {
        response.writeHead(201, { ...tus, location: '/files/1' }).end();
      } else if (request.method === 'HEAD') {
        response.writeHead(200, { ...tus, 'upload-offset': '0', 'cache-control': 'no-store' }).end();
      } else if (cut++ >= cuts) {
        response.writeHead(200, { 'content-type': 'text/plain' }).end('stored');
      } else {
        const socket = request.socket;
        socket.write(`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 100\r\nupload-offset: ${body.length}\r\n\r\n0123456789`, () =>
          socket.destroy(),
        );
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

let server: CuttingServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** Runs an upload of BODY_BYTES that must fail, and returns its error. */
async function failedUpload(upload: BufferedHttpWritable): Promise<Error> {
  let finished = false;
  upload.on('finish', () => (finished = true));
  const data = pattern(BODY_BYTES);
  const chunks = [data.subarray(0, 1000), data.subarray(1000, 2000), data.subarray(2000)];
  const error = await pipeline(readableOf(chunks), upload).then(
    () => undefined,
    (reason: Error) => reason,
  );
  expect(finished).toBe(false);
  if (!error) throw new Error('upload succeeded where it should have failed');
  return error;
}

/** The one shape of a cut answer, whatever the mode. */
function expectCutAnswer(error: Error): void {
  expect(error).toBeInstanceOf(NetworkError);
  expect(error).toMatchObject({ code: 'ERR_BHW_NETWORK', bytesWritten: BODY_BYTES, bytesAcknowledged: 0 });
  expect(error.message).toContain(CUT_MESSAGE);
  expect(error.message).not.toContain('before the request body was complete');
  expect(error.cause).toBeInstanceOf(Error);
  expect((error as NetworkError).causeCode).toBeDefined();
}

describe('an answer cut short after the whole request body was sent', () => {
  test.each([
    ['chunked', {}],
    ['contentLength', { contentLength: BODY_BYTES }],
  ])('stream mode (%s): a network error that says so, not ERR_BHW_EARLY_RESPONSE', async (_kind, options) => {
    server = await startCuttingServer();
    const error = await failedUpload(new BufferedHttpWritable(`${server.url}/upload`, { highWaterMark, ...options }));
    expectCutAnswer(error);
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]!.bytes).toBe(BODY_BYTES);
    expect(error).toMatchObject({ bytesSent: BODY_BYTES });
  });

  test('stream mode (contentLength): cut once the last byte arrived, before end() was called', async () => {
    server = await startCuttingServer();
    const data = pattern(2 * highWaterMark);
    const upload = new BufferedHttpWritable(`${server.url}/upload`, { highWaterMark, contentLength: data.length });
    const failed = once(upload, 'error') as Promise<[Error]>;
    upload.write(data);
    const [error] = await failed;
    expect(upload.writableEnded).toBe(false);
    expect(error).toBeInstanceOf(NetworkError);
    expect(error).toMatchObject({ code: 'ERR_BHW_NETWORK', bytesSent: data.length, bytesAcknowledged: 0 });
    expect(error.message).toContain(CUT_MESSAGE);
  });

  test('batch mode without retries: a network error that says so, not a bare ECONNRESET', async () => {
    server = await startCuttingServer();
    const error = await failedUpload(new BufferedHttpWritable(`${server.url}/upload`, { mode: 'batch', highWaterMark, retry: { limit: 0 } }));
    expectCutAnswer(error);
    expect(error).toMatchObject({ sequence: 0, offset: 0 });
    expect(server.requests.filter((request) => request.headers['batch-sequence'] === '0')).toHaveLength(1);
  });

  test('batch mode retries a cut answer with the same Idempotency-Key, and the last error says it was cut', async () => {
    server = await startCuttingServer();
    const upload = new BufferedHttpWritable(`${server.url}/upload`, {
      mode: 'batch',
      highWaterMark,
      concurrency: 1,
      retry: { limit: 2, backoffLimit: 1 },
    });
    const error = await failedUpload(upload);
    expectCutAnswer(error);
    expect(error).toMatchObject({ sequence: 0, offset: 0 });
    const first = server.requests.filter((request) => request.headers['batch-sequence'] === '0');
    expect(first).toHaveLength(3);
    expect(new Set(first.map((request) => request.headers['idempotency-key'])).size).toBe(1);
    // The same bytes every time: the whole batch went out, and was answered, on each attempt.
    expect(new Set(first.map((request) => request.sha256)).size).toBe(1);
  });

  test('batch mode: a batch whose answer was cut is resent with the same Idempotency-Key and the upload finishes', async () => {
    server = await startCuttingServer({ cuts: 1 });
    const upload = new BufferedHttpWritable(`${server.url}/upload`, { mode: 'batch', highWaterMark, concurrency: 1, retry: { limit: 1, backoffLimit: 1 } });
    await pipeline(readableOf([pattern(1000, 1), pattern(1000, 2)]), upload);
    expect(upload.bytesAcknowledged).toBe(2000);
    const first = server.requests.filter((request) => request.headers['batch-sequence'] === '0');
    expect(first).toHaveLength(2);
    expect(first[0]!.headers['idempotency-key']).toBe(first[1]!.headers['idempotency-key']);
  });

  test.each([
    ['without retries', { limit: 0 }, 1],
    ['after its retries', { limit: 1, backoffLimit: 1 }, 2],
  ])('tus mode %s: a network error that says so', async (_kind, retry, patches) => {
    server = await startCuttingServer();
    const upload = new BufferedHttpWritable(`${server.url}/files`, { mode: 'tus', highWaterMark, contentLength: BODY_BYTES, retry });
    const error = await failedUpload(upload);
    expectCutAnswer(error);
    expect(error).toMatchObject({ offset: 0, uploadUrl: `${server.url}/files/1` });
    expect(server.requests.filter((request) => request.method === 'PATCH')).toHaveLength(patches);
  });
});
