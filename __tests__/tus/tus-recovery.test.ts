import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { pipeline } from 'node:stream/promises';
import { BufferedHttpWritable, type BufferedHttpWritableError } from '../../lib/index.js';
import { chunksOf, pattern, readableOf } from '../helpers/data.js';
import { randomCuts, startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { sha256 } from '../helpers/sink-server.js';
import { startTusServer, type TusTestServer } from '../helpers/tus-server.js';

const MiB = 1024 * 1024;
/** Backoff of at most a few ms: the tests exercise the loop, not the waiting. */
const quickRetry = { backoffLimit: 2 };

describe('tus mode recovers from dropped connections', () => {
  let server: TusTestServer;
  let proxy: FaultProxy;
  beforeEach(async () => {
    server = await startTusServer();
    proxy = await startFaultProxy(server.url);
  });
  afterEach(async () => {
    await proxy.close();
    await server.close();
  });

  test.each([
    ['cut', 'deferred length', false],
    ['reset', 'known length', true],
  ] as const)('a 24 MiB upload through a proxy that %ss every few MiB completes exactly (%s)', async (kind, _label, known) => {
    proxy.setFault(randomCuts({ seed: kind === 'cut' ? 42 : 7, min: 1 * MiB, max: 4 * MiB, kind }));
    const data = pattern(24 * MiB);
    const upload = new BufferedHttpWritable(proxy.url(server.url), {
      mode: 'tus',
      highWaterMark: MiB,
      retry: quickRetry,
      ...(known ? { contentLength: data.length } : {}),
    });
    await pipeline(readableOf(chunksOf(data, [64 * 1024 + 3])), upload);

    const stored = await server.stored(upload.uploadUrl!);
    expect(stored.offset).toBe(data.length);
    expect(stored.length).toBe(data.length);
    expect(stored.sha256).toBe(sha256(data));
    expect(upload.bytesAcknowledged).toBe(data.length);
    expect(proxy.faults).toBeGreaterThan(3);
    const heads = server.requests.filter((request) => request.method === 'HEAD');
    expect(heads.length).toBeGreaterThan(0);
    // A cut PATCH leaves part of its bytes stored: some resend starts mid-buffer.
    const offsets = server.requests.filter((request) => request.method === 'PATCH').map((request) => Number(request.headers['upload-offset']));
    expect(offsets.some((offset) => offset % MiB !== 0)).toBe(true);
    // The length was declared once, and never repeated after a cut.
    expect(server.requests.filter((request) => request.headers['upload-length'] !== undefined)).toHaveLength(1);
  });

  test('a final PATCH cut after declaring the length is resent without Upload-Length', async () => {
    const data = pattern(3 * MiB + 5);
    // Past 2 MiB of body and a few headers, the cut lands inside the last PATCH.
    proxy.cutAt([2 * MiB + MiB / 2]);
    const upload = new BufferedHttpWritable(proxy.url(server.url), { mode: 'tus', highWaterMark: 2 * MiB, retry: quickRetry });
    await pipeline(readableOf(chunksOf(data, [1000])), upload);

    const stored = await server.stored(upload.uploadUrl!);
    expect(stored.sha256).toBe(sha256(data));
    expect(stored.length).toBe(data.length);
    const patches = server.requests.filter((request) => request.method === 'PATCH');
    expect(patches).toHaveLength(3);
    expect(patches[1]!.headers['upload-length']).toBe(String(data.length));
    expect(patches[2]!.headers['upload-length']).toBeUndefined();
    expect(Number(patches[2]!.headers['upload-offset'])).toBeGreaterThan(2 * MiB);
  });

  test('retries without progress run out: the error says where to resume', async () => {
    const upload = new BufferedHttpWritable(proxy.url(server.url), { mode: 'tus', highWaterMark: 1000, retry: { limit: 2, backoffLimit: 2 } });
    const failed = new Promise<BufferedHttpWritableError>((resolve) => upload.on('error', resolve));
    upload.write(pattern(1000));
    await upload.flush();
    // From now on every connection is reset before a byte reaches the server.
    proxy.setFault({ kind: 'reset', afterBytes: 0 });
    proxy.dropConnections();
    upload.write(pattern(1000, 2));

    const error = await failed;
    expect(error.code).toBe('ERR_BHW_NETWORK');
    expect(error.offset).toBe(1000);
    expect(error.uploadUrl).toBe(upload.uploadUrl);
    expect(error.bytesAcknowledged).toBe(1000);
    expect(server.requests.filter((request) => request.method === 'HEAD')).toHaveLength(0);
    expect((await server.stored(upload.uploadUrl!)).offset).toBe(1000);
  });
});
