/**
 * h2o 2.2 as an HTTP/2 reverse proxy (TLS, a CA made for this run) in front of
 * the Node sink and @tus/server; got speaks HTTP/2 (`http2: true`), so batches
 * are multiplexed on one connection. Every mode exact, checked at the sink.
 */
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeCertificates } from '../helpers/tls.js';
import { startServer, stopAll } from './harness.js';
import { startUpstreams, type Upstreams } from './servers.js';
import { boundedGot, exactInEveryMode, expectFinished, expectStreamExact, upload } from './uploads.js';

const certs = makeCertificates();
const client = boundedGot({ http2: true, https: { certificateAuthority: certs.ca } });
let upstreams: Upstreams;
let base: string;

beforeAll(async () => {
  // Relative tus Locations: @tus/server behind a TLS proxy would build http:// ones (see tus-scheme-downgrade.test.ts).
  upstreams = await startUpstreams({ relativeLocation: true });
  const h2o = await startServer({
    name: 'h2o',
    config: 'h2o.conf',
    vars: { UPSTREAM: upstreams.sinkAddress, TUS_UPSTREAM: upstreams.tusAddress },
    ports: ['PORT'],
    prepare: (c) => {
      writeFileSync(join(c.dir, 'server.pem'), certs.cert);
      writeFileSync(join(c.dir, 'server.key'), certs.key, { mode: 0o644 });
    },
    command: (c) => ['/usr/bin/h2o', '-c', c.configPath],
  });
  base = `https://127.0.0.1:${h2o.ports.PORT}`;
});
afterAll(async () => {
  await stopAll();
  await upstreams?.close();
});

describe('h2o reverse proxy over HTTP/2', () => {
  test('stream, chunked: exact', async () => {
    expectFinished(await upload(`${base}/stream`, { got: client }));
    expectStreamExact(upstreams.sink);
  });

  exactInEveryMode(() => ({ base, upstreams, client }));
});
