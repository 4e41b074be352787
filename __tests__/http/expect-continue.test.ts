/**
 * `Expect: 100-continue` is honoured (RFC 9110 §10.1.1): the body waits for
 * the server's `100 Continue`; a final answer that comes first ends the upload
 * with that status and no body byte sent; a server that never answers the
 * expectation gets the body after `expectContinueTimeout`.
 *
 * The servers are Node's own: with a `'checkContinue'` listener it hands the
 * request over before sending any 100, and the test decides when (or whether).
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import got from 'got';
import { BufferedHttpWritable, HttpStatusError, type StreamModeOptions } from '../../lib/index.js';
import { chunksOf, pattern } from '../helpers/data.js';
import { Closer, runUpload } from '../helpers/outcome.js';
import { sha256 } from '../helpers/sink-server.js';
import { startTusServer } from '../helpers/tus-server.js';

const KiB = 1024;
const closer = new Closer();
afterEach(() => closer.closeAll());

const data = pattern(512 * KiB, 5);
const chunks = chunksOf(data, [64 * KiB]);
const highWaterMark = 128 * KiB;
/** Longer than any test: only a 100 Continue (or a final answer) lets the body go. */
const NO_TIMEOUT = 60_000;

interface ContinueRequest {
  request: IncomingMessage;
  response: ServerResponse;
  /** Body bytes received so far. */
  readonly bodyBytes: number;
  /** The whole body, once read. */
  body: Promise<Buffer>;
}

/** A server whose 'checkContinue' requests are handed to the test; it answers 200 with the body's sha256 once read. */
async function startContinueServer(): Promise<{ url: string; requests: ContinueRequest[]; next(): Promise<ContinueRequest>; close(): Promise<void> }> {
  const requests: ContinueRequest[] = [];
  const waiting: Array<(request: ContinueRequest) => void> = [];
  const server: Server = createServer((_request, response) => response.end('no expectation'));
  server.on('checkContinue', (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    let bodyBytes = 0;
    request.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      bodyBytes += chunk.length;
    });
    const body = once(request, 'end').then(() => Buffer.concat(chunks));
    const entry: ContinueRequest = {
      request,
      response,
      get bodyBytes() {
        return bodyBytes;
      },
      body,
    };
    void body.then((bytes) => {
      if (!response.headersSent) response.end(sha256(bytes));
    });
    requests.push(entry);
    waiting.shift()?.(entry);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/upload`,
    requests,
    next: () => new Promise((resolve) => waiting.push(resolve)),
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

/** One turn of the event loop: whatever the socket already holds is read and parsed. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('stream mode with Expect: 100-continue', () => {
  test.each([
    ['in headers', { headers: { Expect: '100-continue' } }],
    ['in headers, any case', { headers: { EXPECT: '100-Continue' } }],
    ['on the got instance', { got: got.extend({ headers: { expect: '100-continue' } }) }],
  ])('%s: no body byte before 100 Continue, then every byte', async (_where, options: StreamModeOptions) => {
    const server = closer.add(await startContinueServer());
    const upload = new BufferedHttpWritable(server.url, { highWaterMark, expectContinueTimeout: NO_TIMEOUT, ...options });
    const outcome = runUpload(upload, chunks);
    const request = await server.next();
    await turn();
    expect(request.bodyBytes).toBe(0);
    expect(upload.bytesSent).toBe(0);
    request.response.writeContinue();
    const { error } = await outcome;
    expect(error).toBeUndefined();
    expect(upload.response?.body).toBe(sha256(data));
  });

  test.each([
    [417, 'expectation failed'],
    [401, 'no token'],
  ])('a final %i instead of 100 ends the upload with that status, no body byte sent', async (status, text) => {
    const server = closer.add(await startContinueServer());
    const upload = new BufferedHttpWritable(server.url, { highWaterMark, headers: { expect: '100-continue' }, expectContinueTimeout: NO_TIMEOUT });
    const outcome = runUpload(upload, chunks);
    const request = await server.next();
    request.response.writeHead(status, { 'content-type': 'text/plain' });
    request.response.end(text);
    const { error } = await outcome;
    expect(error).toBeInstanceOf(HttpStatusError);
    expect(error).toMatchObject({ code: 'ERR_BHW_HTTP_STATUS', statusCode: status, body: text, bytesSent: 0, bytesAcknowledged: 0 });
    expect(request.bodyBytes).toBe(0);
  });

  test('a server that never answers the expectation gets the body after expectContinueTimeout', async () => {
    const server = closer.add(await startContinueServer());
    const upload = new BufferedHttpWritable(server.url, { highWaterMark, headers: { expect: '100-continue' }, expectContinueTimeout: 1 });
    const { error } = await runUpload(upload, chunks);
    expect(error).toBeUndefined();
    expect(upload.response?.body).toBe(sha256(data));
    expect(server.requests[0]!.response.headersSent).toBe(true);
  });

  test('without the header nothing waits (the server is not asked)', async () => {
    const server = closer.add(await startContinueServer());
    const upload = new BufferedHttpWritable(server.url, { highWaterMark, expectContinueTimeout: NO_TIMEOUT });
    const { error } = await runUpload(upload, chunks);
    expect(error).toBeUndefined();
    expect(upload.response?.body).toBe('no expectation');
  });
});

describe('tus PATCHes with Expect: 100-continue', () => {
  /** A tus server whose PATCHes go through the test; other requests get their 100 at once. */
  async function tusWithContinue(onPatch: (request: IncomingMessage, response: ServerResponse, handle: () => void) => void) {
    const tus = closer.add(await startTusServer());
    tus.http.on('checkContinue', (request: IncomingMessage, response: ServerResponse) => {
      const handle = (): void => {
        response.writeContinue();
        void tus.tus.handle(request, response);
      };
      if (request.method === 'PATCH') onPatch(request, response, handle);
      else handle();
    });
    return tus;
  }

  test('each PATCH body waits for 100 Continue; the upload is exact', async () => {
    let early = 0;
    let patches = 0;
    const tus = await tusWithContinue((request, _response, handle) => {
      patches++;
      // One turn, so body bytes sent with the head would be parsed (and held, unread, for the tus server), then the 100.
      void turn().then(() => {
        early += request.readableLength;
        handle();
      });
    });
    const upload = new BufferedHttpWritable(tus.url, { mode: 'tus', highWaterMark, headers: { expect: '100-continue' }, expectContinueTimeout: NO_TIMEOUT });
    const { error } = await runUpload(upload, chunks);
    expect(error).toBeUndefined();
    expect(early).toBe(0);
    expect(patches).toBeGreaterThanOrEqual(data.length / highWaterMark);
    expect((await tus.stored(upload.uploadUrl!)).sha256).toBe(sha256(data));
  });

  test('a final 417 instead of 100 ends the upload with it, no body byte sent', async () => {
    let received = 0;
    const tus = await tusWithContinue((request, response) => {
      request.on('data', (chunk: Buffer) => (received += chunk.length));
      response.writeHead(417, { 'content-type': 'text/plain' });
      response.end('no continue here');
    });
    const upload = new BufferedHttpWritable(tus.url, { mode: 'tus', highWaterMark, headers: { expect: '100-continue' }, expectContinueTimeout: NO_TIMEOUT });
    const { error } = await runUpload(upload, chunks);
    expect(error).toBeInstanceOf(HttpStatusError);
    expect(error).toMatchObject({ code: 'ERR_BHW_HTTP_STATUS', statusCode: 417, bytesSent: 0, bytesAcknowledged: 0 });
    expect(received).toBe(0);
    expect((await tus.stored(upload.uploadUrl!)).offset).toBe(0);
  });
});
