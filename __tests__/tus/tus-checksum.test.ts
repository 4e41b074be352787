import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { startReceiveServer, type ReceiveServer } from '../../cli/receive-server.js';
import { BufferedHttpWritable, HttpStatusError, type DigestAlgorithm } from '../../lib/index.js';
import { startByteFlipProxy, type ByteFlipProxy } from '../helpers/byte-flip-proxy.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { chunksOf, pattern, readableOf } from '../helpers/data.js';
import { sha256 } from '../helpers/sink-server.js';
import { startTusServer, type TusTestServer } from '../helpers/tus-server.js';

const highWaterMark = 64 * 1024;
/** Five PATCHes of 64 KiB and a short last one. */
const data = pattern(5 * highWaterMark + 1234, 25);
/** The first backoff is short: the test waits on the resend, not on a 1 s jitter. */
const retry = { backoffLimit: 20 };

async function upload(url: string, options: { digest?: DigestAlgorithm | false; uploadUrl?: string } = {}): Promise<BufferedHttpWritable> {
  const writable = new BufferedHttpWritable(url, { mode: 'tus', highWaterMark, retry, ...options });
  await pipeline(readableOf(chunksOf(data, [1000])), writable);
  return writable;
}

describe('tus digest against bhw receive, which lists the checksum extension', () => {
  let dir: string;
  let receiver: ReceiveServer;
  let proxy: ByteFlipProxy | undefined;
  const stored = (writable: BufferedHttpWritable): Promise<Buffer> => readFile(join(receiver.dir, 'tus', writable.uploadUrl!.split('/').at(-1)!));

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bhw-tus-checksum-'));
    receiver = await startReceiveServer({ dir: join(dir, 'store'), log: () => {} });
  });
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
    await receiver.close();
    await rm(dir, { recursive: true, force: true });
  });

  test.each<[DigestAlgorithm, string]>([
    ['sha-256', 'sha256'],
    ['sha-512', 'sha512'],
  ])('%s: a byte flipped on the second PATCH is answered 460, resent from the server offset, and the file is byte-exact', async (digest, tusName) => {
    proxy = await startByteFlipProxy(receiver.url, { method: 'PATCH', requests: [2], at: 1000 });
    const writable = await upload(proxy.url(`${receiver.url}/tus`), { digest });

    expect(proxy.flipped).toBe(1);
    expect(writable.checksum).toEqual({ algorithm: tusName, verified: true, mismatches: 1 });
    expect(sha256(await stored(writable))).toBe(sha256(data));
    const patches = proxy.requests.filter((request) => request.method === 'PATCH');
    // Six data PATCHes, the corrupted one again after a HEAD.
    expect(patches).toHaveLength(7);
    expect(proxy.requests.filter((request) => request.method === 'HEAD')).toHaveLength(1);
    for (const patch of patches) expect(patch.headers['upload-checksum']).toMatch(new RegExp(`^${tusName} [A-Za-z0-9+/]+=*$`));
    expect(proxy.requests.filter((request) => request.method === 'OPTIONS')).toHaveLength(1);
  });

  test('resuming with uploadUrl: the extensions are asked with OPTIONS, and the rest goes checksummed', async () => {
    proxy = await startByteFlipProxy(receiver.url, { requests: [] });
    const created = await fetch(proxy.url(`${receiver.url}/tus`), { method: 'POST', headers: { 'tus-resumable': '1.0.0', 'upload-defer-length': '1' } });
    const writable = await upload(proxy.url(`${receiver.url}/tus`), { digest: 'sha-256', uploadUrl: created.headers.get('location')! });

    expect(writable.checksum).toEqual({ algorithm: 'sha256', verified: true, mismatches: 0 });
    expect(proxy.requests.map((request) => request.method).slice(0, 3)).toEqual(['POST', 'HEAD', 'OPTIONS']);
    expect(sha256(await stored(writable))).toBe(sha256(data));
  });

  test('a PATCH cut on the way is resent as before, and not counted as a mismatch', async () => {
    const cutter = await startFaultProxy(receiver.url);
    cutter.cutAt([100_000]);
    try {
      const writable = await upload(cutter.url(`${receiver.url}/tus`), { digest: 'sha-256' });

      expect(cutter.faults).toBe(1);
      expect(writable.checksum).toEqual({ algorithm: 'sha256', verified: true, mismatches: 0 });
      expect(sha256(await stored(writable))).toBe(sha256(data));
    } finally {
      await cutter.close();
    }
  });

  test('without digest the flipped byte is stored: nothing tells the server', async () => {
    proxy = await startByteFlipProxy(receiver.url, { method: 'PATCH', requests: [2], at: 1000 });
    const writable = await upload(proxy.url(`${receiver.url}/tus`));

    const bytes = await stored(writable);
    expect(bytes.equals(data)).toBe(false);
    expect(bytes[highWaterMark + 1000]).toBe(data[highWaterMark + 1000]! ^ 0xff);
    expect(writable.checksum).toBeUndefined();
    expect(proxy.requests.some((request) => request.method === 'OPTIONS' || request.headers['upload-checksum'] !== undefined)).toBe(false);
  });

  test('every PATCH corrupted: the resends end with the retry budget, a 460 error and the count', async () => {
    proxy = await startByteFlipProxy(receiver.url, { method: 'PATCH', requests: 'all', at: 10 });
    const writable = new BufferedHttpWritable(proxy.url(`${receiver.url}/tus`), {
      mode: 'tus',
      highWaterMark,
      digest: 'sha-256',
      retry: { ...retry, limit: 2 },
    });
    const failure = pipeline(readableOf(chunksOf(data, [1000])), writable);

    const error = await failure.then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(HttpStatusError);
    expect(error).toMatchObject({ statusCode: 460, offset: 0 });
    expect(writable.checksum).toEqual({ algorithm: 'sha256', verified: true, mismatches: 3 });
    expect((await stored(writable)).length).toBe(0);
  });
});

describe('tus digest against a server without the checksum extension', () => {
  let server: TusTestServer;
  let front: Server | undefined;
  beforeEach(async () => {
    server = await startTusServer();
  });
  afterEach(async () => {
    if (front) {
      front.closeAllConnections();
      front.close();
      front = undefined;
    }
    await server.close();
  });

  test('@tus/server: asked once with OPTIONS, no Upload-Checksum sent, and the upload says it is not verified', async () => {
    const writable = await upload(server.url, { digest: 'sha-256' });

    expect(writable.checksum).toEqual({ algorithm: 'sha256', verified: false, mismatches: 0 });
    expect(server.requests.filter((request) => request.method === 'OPTIONS')).toHaveLength(1);
    expect(server.requests.some((request) => request.headers['upload-checksum'] !== undefined)).toBe(false);
    expect((await server.stored(writable.uploadUrl!)).sha256).toBe(sha256(data));
  });

  /** @tus/server behind a front that adds headers to every answer, or refuses OPTIONS (405), or resets its connection. */
  async function fronted(headers: Record<string, string>, options?: 'refuse' | 'reset'): Promise<string> {
    front = createServer((request, response) => {
      if (options === 'reset' && request.method === 'OPTIONS') {
        request.socket.resetAndDestroy();
        return;
      }
      if (options === 'refuse' && request.method === 'OPTIONS') {
        response.writeHead(405).end();
        return;
      }
      for (const [name, value] of Object.entries(headers)) response.setHeader(name, value);
      void server.tus.handle(request, response);
    });
    front.listen(0, '127.0.0.1');
    await once(front, 'listening');
    return `http://127.0.0.1:${(front.address() as AddressInfo).port}/files`;
  }

  test.each([
    ['another algorithm is not ours', { 'tus-extension': 'creation,checksum', 'tus-checksum-algorithm': 'md5,sha1' }],
    ['checksum without its algorithms lists none', { 'tus-extension': 'creation, Checksum' }],
  ])('a creation answer listing the extensions settles it without OPTIONS: %s', async (_label, headers) => {
    const url = await fronted(headers);
    const writable = await upload(url, { digest: 'sha-512' });

    expect(writable.checksum).toEqual({ algorithm: 'sha512', verified: false, mismatches: 0 });
    expect(server.requests.filter((request) => request.method === 'OPTIONS')).toHaveLength(0);
    expect(server.requests.some((request) => request.headers['upload-checksum'] !== undefined)).toBe(false);
  });

  test('a server that refuses OPTIONS lists nothing: the upload goes on, not verified', async () => {
    const url = await fronted({}, 'refuse');
    const writable = await upload(url, { digest: 'sha-256' });

    expect(writable.checksum).toEqual({ algorithm: 'sha256', verified: false, mismatches: 0 });
    expect((await server.stored(writable.uploadUrl!)).sha256).toBe(sha256(data));
  });

  test('a connection that fails while OPTIONS is asked fails the upload as any request would, before a PATCH', async () => {
    const url = await fronted({}, 'reset');
    const writable = new BufferedHttpWritable(url, { mode: 'tus', highWaterMark, digest: 'sha-256', retry: { limit: 0 } });

    await expect(pipeline(readableOf([data]), writable)).rejects.toMatchObject({ code: 'ERR_BHW_NETWORK' });
    expect(server.requests.filter((request) => request.method === 'PATCH')).toHaveLength(0);
  });
});
