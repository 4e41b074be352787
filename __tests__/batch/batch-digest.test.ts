import { afterEach, describe, expect, test } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { BufferedHttpWritable, DiagnosticsChannels, ErrorCodes, contentDigestField, digestOf, type BatchRetriedMessage } from '../../lib/index.js';
import { recordChannels } from '../helpers/channels.js';
import { startDigestServer } from '../helpers/digest-server.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { Closer, runUpload } from '../helpers/outcome.js';
import { startSink } from '../helpers/sink-server.js';

const fast = { backoffLimit: 2 };
const closer = new Closer();
afterEach(() => closer.closeAll());

/** 40 NDJSON records, one of them holding the bytes the proxy flips. */
function records(): Buffer[] {
  return Array.from({ length: 40 }, (_, index) => Buffer.from(`{"n":${index},"note":"${index === 25 ? 'FLIP-ME' : 'plain'}"}\n`));
}

describe('batch mode: Content-Digest of each request as sent (RFC 9530)', () => {
  test.each(['sha-256', 'sha-512'] as const)('%s: every request carries the digest of its body, and the server verifies it', async (digest) => {
    const server = closer.add(await startDigestServer());
    const data = records();
    const upload = new BufferedHttpWritable(server.url, { mode: 'batch', highWaterMark: 300, digest });
    const { error } = await runUpload(upload, data);
    expect(error).toBeUndefined();
    expect(server.stored.length).toBeGreaterThan(3);
    for (const request of server.stored) {
      expect(request.headers['content-digest']).toBe(contentDigestField(digest, digestOf(digest, request.body)));
      expect(request.verified).toEqual(['content-digest (header)']);
    }
    expect(server.bytes()).toEqual(Buffer.concat(data));
  });

  test('with gzip the digest is of the compressed bytes on the wire', async () => {
    const server = closer.add(await startDigestServer());
    const data = records();
    const upload = new BufferedHttpWritable(server.url, { mode: 'batch', highWaterMark: 300, compress: 'gzip', digest: 'sha-256' });
    expect((await runUpload(upload, data)).error).toBeUndefined();
    for (const request of server.stored) {
      expect(request.headers['content-encoding']).toBe('gzip');
      expect(request.headers['content-digest']).toBe(contentDigestField('sha-256', digestOf('sha-256', request.body)));
    }
    expect(Buffer.concat(server.stored.map((request) => gunzipSync(request.body)))).toEqual(Buffer.concat(data));
  });

  test('a piece of a batch split by a 413 carries the digest of its own bytes', async () => {
    const server = closer.add(await startDigestServer({ maxBodyBytes: 200 }));
    const data = records();
    const upload = new BufferedHttpWritable(server.url, { mode: 'batch', highWaterMark: 600, digest: 'sha-256', retry: fast });
    expect((await runUpload(upload, data)).error).toBeUndefined();
    expect(server.stored.every((request) => request.body.length <= 200)).toBe(true);
    for (const request of server.stored) {
      expect(request.headers['content-digest']).toBe(contentDigestField('sha-256', digestOf('sha-256', request.body)));
    }
    expect(server.bytes()).toEqual(Buffer.concat(data));
  });
});

describe('batch mode: a byte flipped on the way', () => {
  test('with the digest, the server refuses the corrupted request, it is resent with the same digest, and the upload ends byte-exact', async () => {
    const server = closer.add(await startDigestServer());
    const proxy = closer.add(await startFaultProxy(server.url));
    proxy.flipOnce('FLIP-ME');
    const channels = recordChannels();
    closer.add({ close: () => channels.stop() });
    const data = records();
    const upload = new BufferedHttpWritable(proxy.url(server.url), { mode: 'batch', highWaterMark: 300, digest: 'sha-256', retry: fast });
    const { error } = await runUpload(upload, data);

    expect(error).toBeUndefined();
    expect(proxy.flips).toBe(1);
    expect(server.mismatches).toBe(1);
    expect(server.bytes()).toEqual(Buffer.concat(data));
    // The resend is the same request: its key and digest did not change.
    const [refused] = server.refused;
    const resent = server.stored.find((request) => request.headers['idempotency-key'] === refused!['idempotency-key'])!;
    expect(resent.headers['content-digest']).toBe(refused!['content-digest']);
    const retried = channels.of<BatchRetriedMessage>(DiagnosticsChannels.batchRetried).map((each) => each.message);
    expect(retried).toEqual([expect.objectContaining({ reason: 'digest-mismatch', statusCode: 400, sequence: Number(refused!['batch-sequence']) })]);
  });

  test('without the digest, the flipped byte is stored as if it were right', async () => {
    const server = closer.add(await startDigestServer());
    const proxy = closer.add(await startFaultProxy(server.url));
    proxy.flipOnce('FLIP-ME');
    const data = Buffer.concat(records());
    const upload = new BufferedHttpWritable(proxy.url(server.url), { mode: 'batch', highWaterMark: 300 });
    expect((await runUpload(upload, [data])).error).toBeUndefined();

    const stored = server.bytes();
    expect(proxy.flips).toBe(1);
    expect(server.mismatches).toBe(0);
    expect(stored).not.toEqual(data);
    const differing = [...stored].filter((byte, index) => byte !== data[index]);
    expect(differing).toHaveLength(1);
    expect(stored.indexOf('FLIP-ME')).toBe(-1);
  });

  test('with a spool, a 400 naming the digest is resent, not set aside', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bhw-digest-'));
    closer.add({ close: () => rm(dir, { recursive: true, force: true }) });
    const server = closer.add(await startDigestServer());
    const proxy = closer.add(await startFaultProxy(server.url));
    proxy.flipOnce('FLIP-ME');
    const data = records();
    const upload = new BufferedHttpWritable(proxy.url(server.url), { mode: 'batch', highWaterMark: 300, digest: 'sha-256', retry: fast, spool: { dir } });
    const { error } = await runUpload(upload, data);

    expect(error).toBeUndefined();
    expect(server.mismatches).toBe(1);
    expect(server.bytes()).toEqual(Buffer.concat(data));
  });

  test('when the retries run out, the error says the server saw corrupted bytes', async () => {
    const problem = JSON.stringify({ title: 'Digest mismatch', detail: 'content-digest (header) does not match the content received' });
    const sink = closer.add(
      await startSink((request, response) => {
        request.resume();
        request.on('end', () => response.writeHead(400, { 'content-type': 'application/problem+json' }).end(problem));
      }),
    );
    const upload = new BufferedHttpWritable(sink.url, { mode: 'batch', digest: 'sha-256', retry: { ...fast, limit: 2 } });
    const { error } = await runUpload(upload, ['{"n":1}\n']);

    expect(sink.requestCount).toBe(3);
    expect(error).toMatchObject({ name: 'DigestMismatchError', code: ErrorCodes.DIGEST_MISMATCH, statusCode: 400, retries: { attempts: 3 } });
    expect(error!.message).toMatch(/^Server answered 400 Bad Request for batch 0 \(the server saw corrupted bytes: their digest did not match the one sent\)/);
  });
});
