/**
 * bhw --http2 against a real `http2.createSecureServer` (no HTTP/1.1
 * fallback): the server stores each request body and answers its sha256.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { createSecureServer, type Http2SecureServer, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { useCliFixture } from '../helpers/cli-fixture.js';
import { pattern } from '../helpers/data.js';
import { sha256 } from '../helpers/sink-server.js';
import { makeCertificates, type TestCertificates } from '../helpers/tls.js';

interface Stored {
  method: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

const data = pattern(300_000);
const fx = useCliFixture(data, { sink: false });
let certs: TestCertificates;
let server: Http2SecureServer;
let url: string;
const stored: Stored[] = [];

beforeAll(async () => {
  certs = makeCertificates();
  server = createSecureServer({ key: certs.key, cert: certs.cert, allowHTTP1: false });
  server.on('stream', (stream: ServerHttp2Stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      const body = Buffer.concat(chunks);
      stored.push({ method: String(headers[':method']), headers, body });
      stream.respond({ ':status': 200, 'content-type': 'application/json' });
      stream.end(JSON.stringify({ bytes: body.length, sha256: sha256(body), protocol: 'h2' }));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/up`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

async function ca(): Promise<string> {
  const path = join(fx.dir, 'ca.pem');
  await writeFile(path, certs.ca);
  return path;
}

describe('--http2', () => {
  test.each([
    ['stream, chunked', []],
    ['stream, sized', ['--content-length']],
    ['batch', ['--mode', 'batch', '--concurrency', '3', '--high-water-mark', '64KiB']],
  ])('%s: the server stores exactly the input', async (_name, flags) => {
    stored.length = 0;
    const result = await runCli(['--sha256', '--http2', '--json', '--cacert', await ca(), ...flags, fx.file, url]);

    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^bhw: uploaded 300000 bytes .*, status 200\n$/);
    const inOrder = [...stored].sort((a, b) => Number(a.headers['batch-offset'] ?? 0) - Number(b.headers['batch-offset'] ?? 0));
    expect(sha256(Buffer.concat(inOrder.map((request) => request.body)))).toBe(sha256(data));
    const summary = JSON.parse(result.stdout) as { sha256: string; body: string };
    expect(summary.sha256).toBe(sha256(data));
    expect(JSON.parse(summary.body)).toMatchObject({ protocol: 'h2' });
  });

  test('without --http2 the same server is refused (it speaks HTTP/2 only): the option is what made it work', async () => {
    const result = await runCli(['--cacert', await ca(), '--stall-timeout', '5', fx.file, url]);

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^bhw: upload failed: /);
  });
});
