/**
 * Which proxies pass REQUEST trailers on to the origin: a chunked body ends
 * with `Content-Digest` in a trailer announced by `Trailer:` (what the
 * library's stream mode sends with `digest`), through nginx, HAProxy, Caddy,
 * Apache, squid and h2o to a loopback origin that records what arrived. Each
 * test asserts what the proxy does, and that the body arrives whole either
 * way: a proxy that drops the trailer leaves the digest unverified, it breaks
 * nothing. The table is in FINDINGS.md.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256 } from '../helpers/sink-server.js';
import { makeCertificates } from '../helpers/tls.js';
import { startServer, stopAll, type RunningServer, type ServerSpec } from './harness.js';
import { CONTENT_DIGEST, TRAILER_BODY, sendWithTrailer, sendWithTrailerH2, startTrailerOrigin, type TrailerOrigin } from './trailers.js';

const certs = makeCertificates();
let origin: TrailerOrigin;
/** Started as root, Apache drops to www-data; otherwise it stays the user who started it. */
const asRoot = process.getuid?.() === 0;

beforeAll(async () => {
  origin = await startTrailerOrigin();
});
afterEach(async () => {
  await stopAll();
  origin.arrived.length = 0;
});
afterAll(async () => {
  await origin?.close();
});

/** The one request the origin saw: the body whole, and whether the trailer came with it. */
function arrived(): { trailer?: string; header?: string } {
  expect(origin.arrived).toHaveLength(1);
  const [request] = origin.arrived;
  expect(request!.bytes).toBe(TRAILER_BODY.length);
  expect(request!.sha256).toBe(sha256(TRAILER_BODY));
  const seen: { trailer?: string; header?: string } = {};
  if (request!.trailers['content-digest'] !== undefined) seen.trailer = request!.trailers['content-digest'];
  if (request!.headers['content-digest'] !== undefined) seen.header = request!.headers['content-digest'] as string;
  return seen;
}

/** The `Trailer:` announcement the origin got (some proxies pass it on while dropping the trailer itself). */
function announced(): string | undefined {
  return origin.arrived[0]!.headers.trailer as string | undefined;
}

const PASSED = { trailer: CONTENT_DIGEST };
const DROPPED = {};

function withCerts(spec: ServerSpec): ServerSpec {
  return {
    ...spec,
    prepare: (c) => {
      writeFileSync(join(c.dir, 'server.pem'), certs.cert);
      writeFileSync(join(c.dir, 'server.key'), certs.key, { mode: 0o644 });
    },
  };
}

function startNginx(buffering: 'on' | 'off'): Promise<RunningServer> {
  return startServer({
    name: 'nginx',
    config: 'nginx.conf',
    vars: { UPSTREAM: origin.address, TUS_UPSTREAM: origin.address, REQUEST_BUFFERING: buffering },
    ports: ['PORT'],
    command: (c) => ['/usr/sbin/nginx', '-p', c.dir, '-c', c.configPath, '-e', `${c.dir}/error.log`],
  });
}

function startHaproxy(bufferRequest: string): Promise<RunningServer> {
  return startServer({
    name: 'haproxy',
    config: 'haproxy.cfg',
    vars: { UPSTREAM: origin.address, TUS_UPSTREAM: origin.address, BUFFER_REQUEST: bufferRequest },
    ports: ['PORT'],
    command: (c) => ['/usr/sbin/haproxy', '-db', '-f', c.configPath],
  });
}

function startCaddy(): Promise<RunningServer> {
  return startServer(
    withCerts({
      name: 'caddy',
      config: 'Caddyfile',
      vars: { UPSTREAM: origin.address, TUS_UPSTREAM: origin.address },
      ports: ['HTTP_PORT', 'HTTPS_PORT'],
      env: (c) => ({ HOME: c.dir, XDG_CONFIG_HOME: `${c.dir}/config`, XDG_DATA_HOME: `${c.dir}/data` }),
      command: (c) => ['/usr/bin/caddy', 'run', '--adapter', 'caddyfile', '--config', c.configPath],
    }),
  );
}

function startApache(): Promise<RunningServer> {
  return startServer({
    name: 'apache',
    config: 'apache2.conf',
    vars: {
      UPSTREAM: origin.address,
      USER: asRoot ? 'www-data' : `#${process.getuid?.()}`,
      GROUP: asRoot ? 'www-data' : `#${process.getgid?.()}`,
    },
    ports: ['PORT'],
    command: (c) => ['/usr/sbin/apache2', '-X', '-f', c.configPath],
  });
}

function startSquid(): Promise<RunningServer> {
  return startServer({
    name: 'squid',
    config: 'squid.conf',
    ports: ['PORT'],
    command: (c) => ['/usr/sbin/squid', '-N', '-f', c.configPath],
  });
}

function startH2o(): Promise<RunningServer> {
  return startServer(
    withCerts({
      name: 'h2o',
      config: 'h2o.conf',
      vars: { UPSTREAM: origin.address, TUS_UPSTREAM: origin.address },
      ports: ['PORT'],
      command: (c) => ['/usr/bin/h2o', '-c', c.configPath],
    }),
  );
}

describe('request trailers, directly to the origin (the baseline)', () => {
  test('HTTP/1.1 chunked: the trailer arrives', async () => {
    expect(await sendWithTrailer(`${origin.url}/direct`)).toBe(200);
    expect(arrived()).toEqual(PASSED);
    expect(announced()).toBe('Content-Digest');
  });
});

describe('request trailers through each proxy', () => {
  test.each(['off', 'on'] as const)('nginx, proxy_request_buffering %s', async (buffering) => {
    const nginx = await startNginx(buffering);
    expect(await sendWithTrailer(`http://127.0.0.1:${nginx.ports.PORT}/stream`)).toBe(200);
    // Dropped either way; the announcement is passed on (buffered: with Content-Length instead of chunks).
    expect(arrived()).toEqual(DROPPED);
    expect(announced()).toBe('Content-Digest');
    expect(origin.arrived[0]!.headers['content-length']).toBe(buffering === 'on' ? String(TRAILER_BODY.length) : undefined);
  });

  test.each([
    ['without http-buffer-request', ''],
    ['with http-buffer-request', 'option http-buffer-request'],
  ])('HAProxy %s', async (_label, bufferRequest) => {
    const haproxy = await startHaproxy(bufferRequest);
    expect(await sendWithTrailer(`http://127.0.0.1:${haproxy.ports.PORT}/stream`)).toBe(200);
    // HAProxy keeps the message chunked and forwards the trailer section.
    expect(arrived()).toEqual(PASSED);
  });

  test('Caddy, HTTP/1.1', async () => {
    const caddy = await startCaddy();
    expect(await sendWithTrailer(`http://127.0.0.1:${caddy.ports.HTTP_PORT}/stream`)).toBe(200);
    expect(arrived()).toEqual(DROPPED);
    expect(announced()).toBe('Content-Digest');
  });

  test('Caddy, HTTP/2 over TLS', async () => {
    const caddy = await startCaddy();
    expect(await sendWithTrailerH2(`https://127.0.0.1:${caddy.ports.HTTPS_PORT}/stream`, certs.ca)).toBe(200);
    // The h2 trailing HEADERS frame is not turned into an HTTP/1.1 trailer upstream.
    expect(arrived()).toEqual(DROPPED);
    expect(announced()).toBe('Content-Digest');
  });

  test('Apache mod_proxy_http', async () => {
    const apache = await startApache();
    expect(await sendWithTrailer(`http://127.0.0.1:${apache.ports.PORT}/proxy/stream`)).toBe(200);
    // Dropped, and the `Trailer:` announcement with it.
    expect(arrived()).toEqual(DROPPED);
    expect(announced()).toBeUndefined();
  });

  test('squid, forwarded (absolute form)', async () => {
    const squid = await startSquid();
    expect(await sendWithTrailer(`${origin.url}/stream`, { forwardProxy: `http://127.0.0.1:${squid.ports.PORT}` })).toBe(200);
    // squid re-chunks the body and drops the trailer and its announcement.
    expect(arrived()).toEqual(DROPPED);
    expect(announced()).toBeUndefined();
  });

  test('squid, CONNECT tunnel', async () => {
    const squid = await startSquid();
    expect(await sendWithTrailer(`${origin.url}/stream`, { tunnelProxy: `http://127.0.0.1:${squid.ports.PORT}` })).toBe(200);
    // A tunnel carries the bytes as they are: https targets through --proxy (http ones go in absolute form, above).
    expect(arrived()).toEqual(PASSED);
  });

  test('h2o, HTTP/1.1 over TLS', async () => {
    const h2o = await startH2o();
    expect(await sendWithTrailer(`https://127.0.0.1:${h2o.ports.PORT}/stream`, { ca: certs.ca })).toBe(200);
    // h2o reads the whole body, sends it with Content-Length, and leaves the trailer out.
    expect(arrived()).toEqual(DROPPED);
    expect(origin.arrived[0]!.headers['content-length']).toBe(String(TRAILER_BODY.length));
  });

  test('h2o, HTTP/2', async () => {
    const h2o = await startH2o();
    expect(await sendWithTrailerH2(`https://127.0.0.1:${h2o.ports.PORT}/stream`, certs.ca)).toBe(200);
    // h2o reads the whole body and moves the h2 trailer into the upstream request's header section:
    // the digest still reaches the origin, as a header.
    expect(arrived()).toEqual({ header: CONTENT_DIGEST });
  });
});
