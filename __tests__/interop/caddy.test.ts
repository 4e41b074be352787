/**
 * Caddy 2.6 as a reverse proxy: over plain HTTP/1.1, and over HTTPS with
 * HTTP/2 (got `http2: true`) using a CA made for this run. Every mode exact.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { Got } from 'got';
import { makeCertificates } from '../helpers/tls.js';
import { stopAll } from './harness.js';
import { startCaddy, startUpstreams, type Upstreams } from './servers.js';
import { DATA, boundedGot, expectBatchesExact, expectFinished, expectStreamExact, expectTusExact, upload } from './uploads.js';

const certs = makeCertificates();
let upstreams: Upstreams;
let httpBase: string;
let httpsBase: string;
beforeAll(async () => {
  // Relative tus Locations: behind a TLS-terminating proxy @tus/server would
  // otherwise build them from the plain request (http://…); that downgrade
  // has its own test (tus-scheme-downgrade.test.ts).
  upstreams = await startUpstreams({ relativeLocation: true });
  ({ httpBase, httpsBase } = await startCaddy('caddy', upstreams, certs));
});
afterAll(async () => {
  await stopAll();
  await upstreams?.close();
});

describe.each([
  ['HTTP/1.1, plain', () => httpBase, boundedGot()],
  ['HTTPS with HTTP/2', () => httpsBase, boundedGot({ http2: true, https: { certificateAuthority: certs.ca } })],
])('Caddy reverse proxy, %s', (label, base: () => string, client: Got) => {
  test('stream, chunked: exact', async () => {
    const outcome = await upload(`${base()}/stream`, { got: client });
    expectFinished(outcome);
    expectStreamExact(upstreams.sink);
    // Caddy adds X-Forwarded-Proto: the request really went through it, over the scheme intended.
    const headers = upstreams.sink.received.at(-1)!.headers;
    expect(headers['x-forwarded-proto']).toBe(label.startsWith('HTTPS') ? 'https' : 'http');
    expect(headers['x-client-proto']).toBe(label.startsWith('HTTPS') ? 'HTTP/2.0' : 'HTTP/1.1');
  });

  test('stream with contentLength: exact', async () => {
    expectFinished(await upload(`${base()}/sized`, { got: client, contentLength: DATA.length }));
    expectStreamExact(upstreams.sink);
  });

  test.each([1, 4])('batch, concurrency %i: every batch exact, sequences contiguous', async (concurrency) => {
    upstreams.sink.received.length = 0;
    expectFinished(await upload(`${base()}/batch`, { got: client, mode: 'batch', concurrency }));
    expectBatchesExact(upstreams.sink);
  });

  test('tus to @tus/server: exact', async () => {
    const outcome = await upload(`${base()}/files`, { got: client, mode: 'tus' });
    expectFinished(outcome);
    await expectTusExact(upstreams.tus, outcome.upload.uploadUrl);
  });
});
