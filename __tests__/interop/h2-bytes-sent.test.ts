/**
 * A promise the interop suite found broken: over HTTP/2 `bytesSent` must stay an upper
 * bound on what the server received (README: "bytes handed to the socket:
 * an upper bound on what the server received"). A node:http2 server reads a
 * few MiB of a stream-mode upload, then answers 401; the error's `bytesSent`
 * must be at least what the server had read.
 *
 * Failed before the fix when the answer came mid-buffer: the server had read part of
 * a buffer whose write had not called back, and the library counted a buffer
 * as sent only once it had (FINDINGS.md, HTTP/2).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { once } from 'node:events';
import { createSecureServer, type Http2SecureServer, type ServerHttp2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { makeCertificates } from '../helpers/tls.js';
import { chunksOf, pattern } from '../helpers/data.js';
import { MiB, boundedGot, upload } from './uploads.js';

const certs = makeCertificates();
const client = boundedGot({ http2: true, https: { certificateAuthority: certs.ca } });
const BIG = pattern(32 * MiB, 5);

let server: Http2SecureServer;
let base: string;
/** Client sessions stay open (http2-wrapper keeps them for reuse): closed by the test that opened the server. */
const sessions = new Set<ServerHttp2Session>();
/** Body bytes the server had read when it answered, per request. */
const readWhenAnswered: number[] = [];

beforeAll(async () => {
  server = createSecureServer({ key: certs.key, cert: certs.cert });
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  server.on('stream', (stream, headers) => {
    const limit = Number(new URL(headers[':path'] ?? '/', 'https://x').searchParams.get('after') ?? 0);
    let read = 0;
    let answered = false;
    stream.on('error', () => {});
    stream.on('data', (chunk: Buffer) => {
      read += chunk.length;
      if (answered || read < limit) return;
      answered = true;
      readWhenAnswered.push(read);
      stream.respond({ ':status': 401, 'content-type': 'text/plain' });
      stream.end('no');
      // Refuse the rest of the body, as a server that stops reading does.
      stream.close(0x8); // NGHTTP2_CANCEL
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  const closed = once(server, 'close');
  server.close();
  for (const session of sessions) session.destroy();
  await closed;
});

describe('HTTP/2: bytesSent is an upper bound on what the server read', () => {
  test.each([
    // Mid-buffer: the server has part of a buffer whose write has not called back yet.
    ['1 MiB buffers, answer after 4.1 MiB', MiB, 4 * MiB + 100_000],
    ['64 KiB buffers, answer after 3 MiB + 1000', 64 * 1024, 3 * MiB + 1000],
    ['1 MiB buffers, answer at 5 MiB', MiB, 5 * MiB],
  ])('stream, %s: ERR_BHW_HTTP_STATUS 401 and bytesSent >= bytes the server read', async (_label, highWaterMark, after) => {
    const outcome = await upload(`${base}/upload?after=${after}`, { got: client, highWaterMark }, chunksOf(BIG, [256 * 1024]));
    const read = readWhenAnswered.at(-1)!;
    expect(outcome.error?.code).toBe('ERR_BHW_HTTP_STATUS');
    expect(outcome.error?.statusCode).toBe(401);
    expect(read).toBeGreaterThanOrEqual(after);
    // Both figures in the failure message: what the error said, what the server had.
    expect({ errorBytesSent: outcome.error?.bytesSent, atLeast: read }).toEqual({
      errorBytesSent: Math.max(read, outcome.error?.bytesSent as number),
      atLeast: read,
    });
    expect(outcome.upload.bytesSent).toBeGreaterThanOrEqual(read);
  });
});
