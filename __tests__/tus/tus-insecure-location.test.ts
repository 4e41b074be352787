/**
 * No scheme downgrade: a tus creation over https answered with a plain-http
 * `Location` (a TLS-terminating proxy in front of a server that builds its
 * URLs from the plain request) fails with ERR_BHW_INSECURE_LOCATION before any
 * PATCH goes out in cleartext, unless the caller opts in with
 * `allowInsecureLocation`.
 *
 * The https front (a certificate from tls.ts) passes the creation on to a real
 * @tus/server on plain http and hands back the plain-http Location it got, as
 * such a proxy does; the plain server counts what reaches it.
 */
import { afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import got from 'got';
import { BufferedHttpWritable, InsecureLocationError } from '../../lib/index.js';
import { chunksOf, pattern } from '../helpers/data.js';
import { Closer, runUpload } from '../helpers/outcome.js';
import { sha256 } from '../helpers/sink-server.js';
import { makeCertificates, type TestCertificates } from '../helpers/tls.js';
import { startTusServer, type TusTestServer } from '../helpers/tus-server.js';

const closer = new Closer();
afterEach(() => closer.closeAll());

let certs: TestCertificates;
beforeAll(() => {
  certs = makeCertificates();
});

const data = pattern(300_000, 9);
const chunks = chunksOf(data, [64 * 1024]);

/** An https creation endpoint that creates the upload on `plain` and answers with its plain-http Location (with credentials in it). */
async function startDowngradingFront(plain: TusTestServer): Promise<{ url: string; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const server: Server = createServer({ key: certs.key, cert: certs.cert }, (request, response) => {
    requests.push(`${request.method} ${request.url}`);
    const headers: Record<string, string> = { 'tus-resumable': '1.0.0' };
    for (const name of ['upload-length', 'upload-defer-length', 'upload-metadata']) {
      const value = request.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    request.resume();
    void got.post(plain.url, { headers, throwHttpErrors: false }).then((created) => {
      const location = new URL(created.headers.location!, plain.url);
      location.username = 'user';
      location.password = 'pass-word-1';
      response.writeHead(created.statusCode, { 'tus-resumable': '1.0.0', location: location.href });
      response.end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}/files`,
    requests,
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

describe('tus: an https upload handed a plain-http Location', () => {
  const trusting = (): typeof got => got.extend({ https: { certificateAuthority: certs.ca } });

  test('fails with ERR_BHW_INSECURE_LOCATION naming the redacted URL; no PATCH reaches the plain server', async () => {
    const plain = closer.add(await startTusServer());
    const front = closer.add(await startDowngradingFront(plain));
    const upload = new BufferedHttpWritable(front.url, { mode: 'tus', highWaterMark: 64 * 1024, got: trusting() });
    const { error } = await runUpload(upload, chunks);
    expect(error).toBeInstanceOf(InsecureLocationError);
    const location = `${plain.url}/${plain.created[0]}`;
    expect(error).toMatchObject({ code: 'ERR_BHW_INSECURE_LOCATION', location, bytesSent: 0, bytesAcknowledged: 0 });
    expect(error!.message).toContain(location);
    expect(error!.message).not.toContain('pass-word-1');
    expect(front.requests).toEqual(['POST /files']);
    // The only request the plain server saw is the front's own creation.
    expect(plain.requests.map((request) => request.method)).toEqual(['POST']);
    expect(upload.uploadUrl).toBeUndefined();
  });

  test('with allowInsecureLocation: true the caller gets what it asked for: the upload goes to the plain URL, exact', async () => {
    const plain = closer.add(await startTusServer());
    const front = closer.add(await startDowngradingFront(plain));
    const upload = new BufferedHttpWritable(front.url, { mode: 'tus', highWaterMark: 64 * 1024, got: trusting(), allowInsecureLocation: true });
    const { error } = await runUpload(upload, chunks);
    expect(error).toBeUndefined();
    expect(upload.uploadUrl).toBe(`${plain.url}/${plain.created[0]}`);
    expect((await plain.stored(plain.created[0]!)).sha256).toBe(sha256(data));
  });

  test("an http endpoint's own http Location is no downgrade: followed as before", async () => {
    const plain = closer.add(await startTusServer());
    const upload = new BufferedHttpWritable(plain.url, { mode: 'tus', highWaterMark: 64 * 1024 });
    const { error } = await runUpload(upload, chunks);
    expect(error).toBeUndefined();
  });
});
