import { afterEach, describe, expect, test } from '@jest/globals';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { BufferedHttpWritable, ErrorCodes, RESPONSE_BODY_LIMIT, fetchTusOffset, type BufferedHttpWritableError } from '../../lib/index.js';
import { pattern, readableOf } from '../helpers/data.js';
import { readBody, startSink, type Sink } from '../helpers/sink-server.js';

let server: Sink | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

type Answer = (request: IncomingMessage, response: ServerResponse, body: Buffer) => void;

/** A hand-written tus endpoint: creation answers a Location of /files/1 unless `post` says otherwise. */
async function startTus({ post, patch, head }: { post?: Answer; patch?: Answer; head?: Answer }): Promise<Sink> {
  const stored: Buffer[] = [];
  const offset = (): number => stored.reduce((sum, part) => sum + part.length, 0);
  return startSink((request, response) => {
    void readBody(request).then(
      (body) => {
        if (request.method === 'POST') {
          if (post) post(request, response, body);
          else response.writeHead(201, { location: '/files/1', 'tus-resumable': '1.0.0' }).end();
        } else if (request.method === 'PATCH') {
          if (patch) return patch(request, response, body);
          stored.push(body);
          response.writeHead(204, { 'upload-offset': String(offset()), 'tus-resumable': '1.0.0' }).end();
        } else if (request.method === 'HEAD') {
          if (head) return head(request, response, body);
          response.writeHead(200, { 'upload-offset': String(offset()), 'tus-resumable': '1.0.0' }).end();
        } else {
          response.writeHead(405).end();
        }
      },
      () => {},
    );
  });
}

async function upload(url: string, data: Buffer): Promise<BufferedHttpWritableError | undefined> {
  const writable = new BufferedHttpWritable(`${url}/files`, { mode: 'tus', highWaterMark: 1024, retry: { limit: 1, backoffLimit: 1 } });
  return pipeline(readableOf([data]), writable).then(
    () => undefined,
    (error: unknown) => error as BufferedHttpWritableError,
  );
}

describe('tus answers that break the protocol fail typed, never silently', () => {
  test('a creation whose Location is not a URL', async () => {
    server = await startTus({ post: (_request, response) => response.writeHead(201, { location: 'http://[not-a-host' }).end() });
    const error = await upload(server.url, pattern(100));
    expect(error?.code).toBe(ErrorCodes.PROTOCOL);
    expect(error?.message).toMatch(/^Creation answer 201 without a valid Location/);
  });

  test('a PATCH answered 2xx without an Upload-Offset', async () => {
    server = await startTus({ patch: (_request, response) => response.writeHead(204, { 'tus-resumable': '1.0.0' }).end() });
    const error = await upload(server.url, pattern(100));
    expect(error?.code).toBe(ErrorCodes.PROTOCOL);
    expect(error?.message).toMatch(/^PATCH answer 204 without a valid Upload-Offset/);
    expect(error?.uploadUrl).toBe(`${server.url}/files/1`);
  });

  test('a HEAD after a failed PATCH answered with a final error status', async () => {
    server = await startTus({
      patch: (_request, response) => response.writeHead(503).end('busy'),
      head: (_request, response) => response.writeHead(410, 'Gone').end(),
    });
    const error = (await upload(server.url, pattern(100))) as BufferedHttpWritableError & { statusCode?: number };
    expect(error.code).toBe(ErrorCodes.HTTP_STATUS);
    expect(error.statusCode).toBe(410);
    expect(error.offset).toBe(0);
  });

  test('fetchTusOffset on a HEAD answer without an Upload-Offset', async () => {
    server = await startTus({ head: (_request, response) => response.writeHead(200, { 'tus-resumable': '1.0.0' }).end() });
    await expect(fetchTusOffset(`${server.url}/files/1`)).rejects.toMatchObject({
      code: ErrorCodes.PROTOCOL,
      message: expect.stringMatching(/^HEAD answer without a valid Upload-Offset/),
      uploadUrl: `${server.url}/files/1`,
    });
  });
});

describe("a tus server's huge answer body is kept only up to RESPONSE_BODY_LIMIT", () => {
  test('the final PATCH answer', async () => {
    server = await startTus({
      patch: (request, response, body) => {
        const offset = Number(request.headers['upload-offset']) + body.length;
        response.writeHead(200, { 'upload-offset': String(offset), 'tus-resumable': '1.0.0' }).end('y'.repeat(RESPONSE_BODY_LIMIT + 10));
      },
    });
    const writable = new BufferedHttpWritable(`${server.url}/files`, { mode: 'tus', highWaterMark: 1024 });
    await pipeline(readableOf([pattern(100)]), writable);
    expect(writable.response?.statusCode).toBe(200);
    expect(writable.response?.body.length).toBe(RESPONSE_BODY_LIMIT);
  });
});
