/**
 * `bytesSent` is an upper bound on what the server received, over HTTP/2 too
 * (got's `http2: true`, through http2-wrapper). An HTTP/2 stream's write
 * callback fires only once flow control let the buffer's last DATA frame out,
 * so the server reads part of a buffer before it fires; counting at the
 * callback said 4 MiB where the server had read 4.8.
 *
 * The server is Node's own `http2.createSecureServer` (certificate from
 * tls.ts); it answers 401 once it has read a number of bytes that is not a
 * multiple of the buffer size, and records how many it had read.
 */
import { afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { createSecureServer, type Http2SecureServer } from 'node:http2';
import got from 'got';
import { BufferedHttpWritable, HttpStatusError } from '../../lib/index.js';
import { chunksOf, pattern } from '../helpers/data.js';
import { Closer, runUpload } from '../helpers/outcome.js';
import { listenH2, makeCertificates, type TestCertificates } from '../helpers/tls.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const closer = new Closer();
afterEach(() => closer.closeAll());

let certs: TestCertificates;
beforeAll(() => {
  certs = makeCertificates();
});

/** Answers 401 as soon as it has read `limit` body bytes; `readAtAnswer` is what it had read then. */
async function startRefusingH2Server(limit: number): Promise<{ url: string; readAtAnswer: number[]; close(): Promise<void> }> {
  const readAtAnswer: number[] = [];
  const server: Http2SecureServer = createSecureServer({ key: certs.key, cert: certs.cert }, (request, response) => {
    let read = 0;
    let answered = false;
    request.on('data', (chunk: Buffer) => {
      read += chunk.length;
      if (answered || read < limit) return;
      answered = true;
      readAtAnswer.push(read);
      response.writeHead(401, { 'content-type': 'text/plain' });
      response.end('no token');
    });
    request.on('end', () => {
      if (!answered) response.end('ok');
    });
  });
  return { ...(await listenH2(server)), readAtAnswer };
}

describe('stream mode over HTTP/2: an answer while the body is going out', () => {
  test.each([
    ['inside the first buffer', 300 * KiB],
    ['inside the fifth buffer', 4 * MiB + 800 * KiB],
  ])('%s: the error says 401 and bytesSent is at least what the server had read', async (_where, limit) => {
    const server = closer.add(await startRefusingH2Server(limit));
    const client = got.extend({ http2: true, https: { certificateAuthority: certs.ca } });
    const upload = new BufferedHttpWritable(server.url, { got: client, highWaterMark: MiB });
    const { error } = await runUpload(upload, chunksOf(pattern(16 * MiB, 4), [MiB]));
    expect(error).toBeInstanceOf(HttpStatusError);
    expect(error).toMatchObject({ statusCode: 401, bytesAcknowledged: 0 });
    expect(server.readAtAnswer).toHaveLength(1);
    expect(error!.bytesSent as number).toBeGreaterThanOrEqual(server.readAtAnswer[0]!);
  });
});
