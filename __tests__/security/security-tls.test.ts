/**
 * HTTPS with a certificate made for the test (helpers/tls.ts): certificate
 * verification stays on by default in every mode, an untrusted or mismatched
 * certificate fails with a typed NetworkError carrying the TLS code, and a CA
 * given through the got instance (`https.certificateAuthority`) is used.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { FileStore } from '@tus/file-store';
import { Server as TusServer } from '@tus/server';
import got from 'got';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BufferedHttpWritable, NetworkError, fetchTusOffset, type UploadMode } from '../../lib/index.js';
import { startBatchServer } from '../helpers/batch-server.js';
import { chunksOf, pattern } from '../helpers/data.js';
import { Closer, runUpload } from '../helpers/outcome.js';
import { makeCertificates, startHttpsSink, type TestCertificates } from '../helpers/tls.js';

let certs: TestCertificates;
/** A leaf for `localhost` only: connecting to 127.0.0.1 must fail the name check. */
let localhostOnly: TestCertificates;
beforeAll(() => {
  certs = makeCertificates();
  localhostOnly = makeCertificates({ names: ['DNS:localhost'] });
});

const closer = new Closer();
afterEach(() => closer.closeAll());

const data = pattern(100_000, 11);
const chunks = chunksOf(data, [7000]);
const modes: UploadMode[] = ['stream', 'batch', 'tus'];

/** A tus server (real @tus/server) behind node:https. */
async function startHttpsTus(serverCerts: TestCertificates): Promise<{ url: string; stored(uploadUrl: string): Promise<Buffer>; requests(): number }> {
  const dir = await mkdtemp(join(tmpdir(), 'bhw-tus-tls-'));
  const tus = new TusServer({ path: '/files', datastore: new FileStore({ directory: dir }), relativeLocation: true, lockDrainTimeout: 100 });
  let requests = 0;
  const server = createServer({ key: serverCerts.key, cert: serverCerts.cert }, (request, response) => {
    requests++;
    void tus.handle(request, response);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closer.add({
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
      await rm(dir, { recursive: true, force: true });
    },
  });
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}/files`,
    stored: (uploadUrl) => readFile(join(dir, uploadUrl.split('/').at(-1)!)),
    requests: () => requests,
  };
}

/** An HTTPS endpoint for `mode` that records what it receives. */
async function endpoint(
  mode: UploadMode,
  serverCerts = certs,
): Promise<{ url: string; received(upload: BufferedHttpWritable): Promise<Buffer | undefined>; requests(): number }> {
  if (mode === 'tus') {
    const tus = await startHttpsTus(serverCerts);
    return { url: tus.url, received: (upload) => tus.stored(upload.uploadUrl!), requests: tus.requests };
  }
  const sink = closer.add(await startHttpsSink(serverCerts));
  return {
    url: sink.url,
    received: async () => (sink.received.length ? Buffer.concat(sink.received.map((request) => request.body)) : undefined),
    requests: () => sink.requestCount,
  };
}

describe.each(modes)('%s mode over HTTPS', (mode) => {
  test('an untrusted certificate fails with NetworkError and the TLS code; nothing reaches the server', async () => {
    const server = await endpoint(mode);
    const upload = new BufferedHttpWritable(server.url, { mode, highWaterMark: 16_384 });
    const { error, finished } = await runUpload(upload, chunks);
    expect(finished).toBe(false);
    expect(error).toBeInstanceOf(NetworkError);
    expect(error).toMatchObject({ code: 'ERR_BHW_NETWORK', causeCode: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', bytesAcknowledged: 0 });
    expect(error!.message).toMatch(/unable to verify the first certificate/);
    expect(server.requests()).toBe(0);
  });

  test('a CA given through the got instance is trusted: the upload completes exactly', async () => {
    const server = await endpoint(mode);
    const trusting = got.extend({ https: { certificateAuthority: certs.ca } });
    const upload = new BufferedHttpWritable(server.url, { mode, highWaterMark: 16_384, got: trusting });
    const { error } = await runUpload(upload, chunks);
    expect(error).toBeUndefined();
    expect((await server.received(upload))!.equals(data)).toBe(true);
  });

  test('trusting an unrelated CA does not make the certificate trusted', async () => {
    const server = await endpoint(mode);
    const other = got.extend({ https: { certificateAuthority: certs.otherCa } });
    const { error } = await runUpload(new BufferedHttpWritable(server.url, { mode, got: other }), chunks);
    expect(error).toBeInstanceOf(NetworkError);
    expect(error!.causeCode).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  test('a trusted certificate for another name fails the hostname check', async () => {
    const server = await endpoint(mode, localhostOnly);
    const trusting = got.extend({ https: { certificateAuthority: localhostOnly.ca } });
    const { error } = await runUpload(new BufferedHttpWritable(server.url, { mode, got: trusting }), chunks);
    expect(error).toBeInstanceOf(NetworkError);
    expect(error).toMatchObject({ causeCode: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    expect(error!.message).toMatch(/127\.0\.0\.1/);
  });
});

describe.each(['batch', 'tus'] as const)('%s mode does not retry a refused certificate', (mode) => {
  test('one connection, one typed error', async () => {
    const sink = closer.add(await startHttpsSink(certs));
    const upload = new BufferedHttpWritable(sink.url, { mode, retry: { backoffLimit: 2 } });
    const { error } = await runUpload(upload, chunks);
    expect(error).toMatchObject({ code: 'ERR_BHW_NETWORK', causeCode: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    expect(sink.connections).toBe(1);
  });
});

describe('fetchTusOffset verifies certificates too', () => {
  test('untrusted: NetworkError; with the CA: the offset', async () => {
    const tus = await startHttpsTus(certs);
    const trusting = got.extend({ https: { certificateAuthority: certs.ca } });
    const upload = new BufferedHttpWritable(tus.url, { mode: 'tus', got: trusting });
    await runUpload(upload, chunks);
    await expect(fetchTusOffset(upload.uploadUrl!)).rejects.toMatchObject({ code: 'ERR_BHW_NETWORK', causeCode: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    await expect(fetchTusOffset(upload.uploadUrl!, { got: trusting })).resolves.toEqual({ offset: data.length, length: data.length });
  });
});

describe('the plain-HTTP batch server is not the one answering', () => {
  // Guards the tests above: an https:// URL to a plain-HTTP server fails too, but not with a certificate code.
  let server: Awaited<ReturnType<typeof startBatchServer>>;
  beforeAll(async () => {
    server = await startBatchServer();
  });
  afterAll(() => server.close());
  test('https:// to a plain HTTP port fails with a TLS protocol error, not a certificate one', async () => {
    const url = server.url.replace('http:', 'https:');
    const { error } = await runUpload(new BufferedHttpWritable(url, { mode: 'batch' }), chunks);
    expect(error).toBeInstanceOf(NetworkError);
    expect(error!.causeCode).not.toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });
});
