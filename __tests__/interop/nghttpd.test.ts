/**
 * nghttpd (nghttp2 1.52), a plain HTTP/2 server, with `--echo-upload`: it
 * sends back the body of a POST/PUT. got speaks HTTP/2 to it (`http2: true`)
 * over TLS with a certificate made for this run. The check is the echo: its
 * sha256 and length must be those of what was written.
 *
 * The library keeps only the first MiB of a response body, as text, so the
 * echo is hashed as it arrives by a got handler that listens to the same
 * response stream (got's public `handlers` option).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createHash, type Hash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Got } from 'got';
import { sha256 } from '../helpers/sink-server.js';
import { makeCertificates } from '../helpers/tls.js';
import { startServer, stopAll } from './harness.js';
import { DATA, boundedGot, expectFinished, upload } from './uploads.js';

const certs = makeCertificates();
let base: string;
let client: Got;
/** The echo of the last request, hashed as it arrived. */
let echo: { hash: Hash; bytes: number; httpVersion?: string };

beforeAll(async () => {
  const nghttpd = await startServer({
    name: 'nghttpd',
    ports: ['PORT'],
    prepare: (c) => {
      writeFileSync(join(c.dir, 'server.pem'), certs.cert);
      writeFileSync(join(c.dir, 'server.key'), certs.key, { mode: 0o600 });
      mkdirSync(join(c.dir, 'htdocs'));
    },
    // In the foreground (no -D); configured by flags alone.
    command: (c) => [
      '/usr/sbin/nghttpd',
      '--echo-upload',
      '--address=127.0.0.1',
      `--htdocs=${c.dir}/htdocs`,
      String(c.ports.PORT),
      join(c.dir, 'server.key'),
      join(c.dir, 'server.pem'),
    ],
  });
  base = `https://127.0.0.1:${nghttpd.ports.PORT}`;
  client = boundedGot({
    http2: true,
    https: { certificateAuthority: certs.ca },
    handlers: [
      (options, next) => {
        const result = next(options);
        if (options.isStream) {
          const current = { hash: createHash('sha256'), bytes: 0 } as typeof echo;
          echo = current;
          const stream = result as unknown as NodeJS.EventEmitter;
          stream.on('response', (response: { httpVersion: string }) => (current.httpVersion = response.httpVersion));
          stream.on('data', (chunk: Buffer) => {
            current.hash.update(chunk);
            current.bytes += chunk.length;
          });
        }
        return result;
      },
    ],
  });
});
afterAll(() => stopAll());

describe('nghttpd --echo-upload over HTTP/2 (TLS)', () => {
  test.each([
    ['chunked (no length)', {}],
    ['with contentLength', { contentLength: DATA.length }],
  ])('stream, %s: the echo is exactly what was written', async (_label, options) => {
    expectFinished(await upload(`${base}/echo`, { got: client, ...options }));
    expect(echo.httpVersion).toBe('2.0');
    expect(echo.bytes).toBe(DATA.length);
    expect(echo.hash.digest('hex')).toBe(sha256(DATA));
  });

  test.each([
    ['POST', {}],
    ['PUT', { method: 'PUT' as const }],
  ])('stream, %s with 64 KiB buffers: the echo is exact', async (_label, options) => {
    expectFinished(await upload(`${base}/echo`, { got: client, highWaterMark: 64 * 1024, ...options }));
    expect(echo.bytes).toBe(DATA.length);
    expect(echo.hash.digest('hex')).toBe(sha256(DATA));
  });
});
