/**
 * got's `http2` option goes through http2-wrapper, whose requests cannot
 * carry trailers: a streamed digest does not reach an HTTP/2 server. The
 * upload still works; the server just has nothing to verify (README,
 * "Integrity"). Batch digests are headers and reach it either way.
 */
import { afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { createSecureServer, type IncomingHttpHeaders } from 'node:http2';
import got from 'got';
import { BufferedHttpWritable } from '../../lib/index.js';
import { pattern } from '../helpers/data.js';
import { Closer, runUpload } from '../helpers/outcome.js';
import { listenH2, makeCertificates, type TestCertificates } from '../helpers/tls.js';

const closer = new Closer();
afterEach(() => closer.closeAll());

let certs: TestCertificates;
beforeAll(() => {
  certs = makeCertificates();
});

/** Reads each request whole and records its body length, headers and trailers. */
async function startH2Recorder(): Promise<{
  url: string;
  seen: Array<{ bytes: number; headers: IncomingHttpHeaders; trailers: IncomingHttpHeaders }>;
  close(): Promise<void>;
}> {
  const seen: Array<{ bytes: number; headers: IncomingHttpHeaders; trailers: IncomingHttpHeaders }> = [];
  const server = createSecureServer({ key: certs.key, cert: certs.cert }, (request, response) => {
    let bytes = 0;
    request.on('data', (chunk: Buffer) => (bytes += chunk.length));
    request.on('end', () => {
      seen.push({ bytes, headers: request.headers, trailers: request.trailers });
      response.end('ok');
    });
  });
  return { ...(await listenH2(server)), seen };
}

describe('stream mode with digest over HTTP/2', () => {
  test('the upload succeeds; no trailer reaches the server', async () => {
    const server = closer.add(await startH2Recorder());
    const client = got.extend({ http2: true, https: { certificateAuthority: certs.ca } });
    const upload = new BufferedHttpWritable(server.url, { got: client, highWaterMark: 4096, digest: 'sha-256' });
    expect((await runUpload(upload, [pattern(10_000)])).error).toBeUndefined();
    expect(server.seen).toHaveLength(1);
    expect(server.seen[0]!.bytes).toBe(10_000);
    expect(server.seen[0]!.trailers['content-digest']).toBeUndefined();
  });
});
