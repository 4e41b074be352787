/**
 * Apache httpd 2.4: mod_proxy_http in front of the Node sink (every mode
 * exact), and mod_dav storing a `PUT` as a file whose sha256 the test checks.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { chmodSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256 } from '../helpers/sink-server.js';
import { startServer, stopAll, type RunningServer } from './harness.js';
import { startUpstreams, type Upstreams } from './servers.js';
import { DATA, boundedGot, expectBatchesExact, expectFinished, expectStreamExact, upload } from './uploads.js';

const client = boundedGot();
let upstreams: Upstreams;
let apache: RunningServer;
let base: string;

/** Started as root, Apache drops to www-data; otherwise it stays the user who started it. */
const asRoot = process.getuid?.() === 0;

beforeAll(async () => {
  upstreams = await startUpstreams();
  apache = await startServer({
    name: 'apache',
    config: 'apache2.conf',
    vars: {
      UPSTREAM: upstreams.sinkAddress,
      USER: asRoot ? 'www-data' : `#${process.getuid?.()}`,
      GROUP: asRoot ? 'www-data' : `#${process.getgid?.()}`,
    },
    ports: ['PORT'],
    prepare: (c) => {
      // Writable by whichever user Apache serves as.
      mkdirSync(join(c.dir, 'dav'));
      chmodSync(join(c.dir, 'dav'), 0o777);
    },
    // -X: one process, in the foreground, no detaching.
    command: (c) => ['/usr/sbin/apache2', '-X', '-f', c.configPath],
  });
  base = `http://127.0.0.1:${apache.ports.PORT}`;
});
afterAll(async () => {
  await stopAll();
  await upstreams?.close();
});

describe('Apache mod_proxy_http in front of the Node sink', () => {
  test('stream, chunked: exact', async () => {
    expectFinished(await upload(`${base}/proxy/stream`, { got: client }));
    expectStreamExact(upstreams.sink);
  });

  test('stream with contentLength: exact', async () => {
    expectFinished(await upload(`${base}/proxy/sized`, { got: client, contentLength: DATA.length }));
    expectStreamExact(upstreams.sink);
  });

  test.each([1, 4])('batch, concurrency %i: every batch exact, sequences contiguous', async (concurrency) => {
    upstreams.sink.received.length = 0;
    expectFinished(await upload(`${base}/proxy/batch`, { got: client, mode: 'batch', concurrency }));
    expectBatchesExact(upstreams.sink);
  });
});

describe('Apache mod_dav: PUT stores the file', () => {
  test.each([
    ['with contentLength', 'sized.bin', { contentLength: DATA.length }],
    ['chunked', 'chunked.bin', {}],
  ])('stream, PUT %s: the stored file is exact (201 Created)', async (_label, name, options) => {
    const outcome = await upload(`${base}/dav/${name}`, { got: client, method: 'PUT', ...options });
    expectFinished(outcome);
    expect(outcome.upload.response?.statusCode).toBe(201);
    const stored = readFileSync(join(apache.dir, 'dav', name));
    expect(stored.length).toBe(DATA.length);
    expect(sha256(stored)).toBe(sha256(DATA));
  });
});
