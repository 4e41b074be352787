/**
 * HAProxy 2.6 answering at header time while the body is still going out
 * (invariant 6): `http-request return status 401` and `http-request deny
 * deny_status 413`, in stream mode (chunked and with contentLength), for tus
 * PATCHes and for batches. HAProxy closes right after its answer and its
 * kernel resets the connection as more body arrives; every run must end in
 * ERR_BHW_HTTP_STATUS with the status, never EPIPE/ECONNRESET. Before the fix
 * most runs lost the answer (docs/interop-notes.md).
 *
 * Self-contained for now: starts /usr/sbin/haproxy itself (in the foreground,
 * `-db`, config in a fresh temp directory) and is skipped when it is not
 * installed. Meant to move into the interop suite (`__tests__/interop/`).
 */
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import got from 'got';
import { BufferedHttpWritable, type BufferedHttpWritableOptions } from '../../lib/index.js';
import { chunksOf, pattern } from '../helpers/data.js';
import { runUpload } from '../helpers/outcome.js';
import { startSink, type Sink } from '../helpers/sink-server.js';
import { startTusServer, type TusTestServer } from '../helpers/tus-server.js';

const HAPROXY = '/usr/sbin/haproxy';
const MiB = 1024 * 1024;
/** Runs per case: the loss was a race, so one passing run proves little. */
const RUNS = 10;
const BIG = chunksOf(pattern(32 * MiB, 3), [MiB]);

// A hang fails the test, not the suite; every request is bounded by got's own timeout too.
jest.setTimeout(60_000);
const client = got.extend({ timeout: { request: 20_000 } });

const describeIfHaproxy = existsSync(HAPROXY) ? describe : describe.skip;

let haproxy: ChildProcess | undefined;
let dir: string | undefined;
let sink: Sink;
let tus: TusTestServer;
const ports: Record<string, number> = {};

/** A loopback port that was free a moment ago. */
async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

/** Resolves once something accepts connections on `port`; polls a bounded number of times. */
async function listening(port: number, child: ChildProcess): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (child.exitCode !== null) throw new Error(`haproxy exited with ${child.exitCode}`);
    const socket = connect(port, '127.0.0.1');
    const ok = await new Promise<boolean>((resolve) => {
      socket.once('connect', () => resolve(true));
      socket.once('error', () => resolve(false));
    });
    socket.destroy();
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 25)); // polling for readiness, not synchronising the test
  }
  throw new Error(`haproxy did not listen on ${port}`);
}

beforeAll(async () => {
  if (!existsSync(HAPROXY)) return;
  sink = await startSink();
  tus = await startTusServer();
  for (const name of ['RETURN_401', 'DENY_413', 'TUS', 'BATCH']) ports[name] = await freePort();
  dir = mkdtempSync(join(tmpdir(), 'bhw-haproxy-'));
  const upstream = (url: string): string => new URL(url).host;
  const config = `
global
  maxconn 100
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend return_401
  bind 127.0.0.1:${ports.RETURN_401}
  http-request return status 401 content-type text/plain string "no token"
frontend deny_413
  bind 127.0.0.1:${ports.DENY_413}
  http-request deny deny_status 413
frontend tus_deny_patch
  bind 127.0.0.1:${ports.TUS}
  http-request deny deny_status 413 if { method PATCH }
  default_backend tus
frontend batch_deny_post
  bind 127.0.0.1:${ports.BATCH}
  http-request deny deny_status 413 if { method POST }
  default_backend sink
backend tus
  server tus ${upstream(tus.url)}
backend sink
  server sink ${upstream(sink.url)}
`;
  writeFileSync(join(dir, 'haproxy.cfg'), config);
  haproxy = spawn(HAPROXY, ['-db', '-f', join(dir, 'haproxy.cfg')], { stdio: 'ignore' });
  for (const port of Object.values(ports)) await listening(port, haproxy);
});

afterAll(async () => {
  if (haproxy && haproxy.exitCode === null) {
    const exited = once(haproxy, 'exit');
    haproxy.kill('SIGTERM');
    await exited;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
  await sink?.close();
  await tus?.close();
});

/** Runs the same upload RUNS times and tallies how each ended (`code status-or-cause`). */
async function tally(url: () => string, options: BufferedHttpWritableOptions): Promise<Record<string, number>> {
  const outcomes: Record<string, number> = {};
  for (let run = 0; run < RUNS; run++) {
    const { error } = await runUpload(new BufferedHttpWritable(url(), { got: client, ...options }), BIG);
    const key = error ? `${String(error.code)} ${String(error.statusCode ?? error.causeCode ?? error.message)}` : 'finished';
    outcomes[key] = (outcomes[key] ?? 0) + 1;
  }
  return outcomes;
}

describeIfHaproxy('HAProxy 2.6 answering at header time, stream mode', () => {
  test.each([
    ['http-request return 401, chunked', 'RETURN_401', {}, 401],
    ['http-request return 401, contentLength', 'RETURN_401', { contentLength: 32 * MiB }, 401],
    ['http-request deny 413, chunked', 'DENY_413', {}, 413],
    ['http-request deny 413, contentLength', 'DENY_413', { contentLength: 32 * MiB }, 413],
  ])('%s: every run ends in ERR_BHW_HTTP_STATUS with the status', async (_label, port, options, status) => {
    const outcomes = await tally(() => `http://127.0.0.1:${ports[port]}/upload`, options);
    expect(outcomes).toEqual({ [`ERR_BHW_HTTP_STATUS ${status}`]: RUNS });
  });
});

describeIfHaproxy('HAProxy 2.6 denying the body requests of tus and batch with 413', () => {
  // No retries: an EPIPE would be retried (and each retry meet the same race), a 413 is not.
  test('tus: a PATCH refused at header time ends in 413, not EPIPE', async () => {
    const outcomes = await tally(() => `http://127.0.0.1:${ports.TUS}/files`, { mode: 'tus', highWaterMark: 4 * MiB, retry: { limit: 0 } });
    expect(outcomes).toEqual({ 'ERR_BHW_HTTP_STATUS 413': RUNS });
  });

  test('batch: a batch refused at header time ends in 413, not EPIPE', async () => {
    const outcomes = await tally(() => `http://127.0.0.1:${ports.BATCH}/batches`, { mode: 'batch', highWaterMark: 4 * MiB, retry: { limit: 0 } });
    expect(outcomes).toEqual({ 'ERR_BHW_HTTP_STATUS 413': RUNS });
  });
});
