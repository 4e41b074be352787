import { afterEach, describe, expect, test } from '@jest/globals';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BufferedHttpWritable, ErrorCodes, contentDigestField, digestOf, uploadFile } from '../../lib/index.js';
import { startWireServer } from '../helpers/chunked-wire-server.js';
import { chunksOf, pattern } from '../helpers/data.js';
import { startDigestServer } from '../helpers/digest-server.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { Closer, runUpload } from '../helpers/outcome.js';

const closer = new Closer();
afterEach(() => closer.closeAll());

/** A body with the bytes the proxy flips in its middle. */
function body(): Buffer {
  return Buffer.concat([pattern(5000, 3), Buffer.from('FLIP-ME'), pattern(5000, 4)]);
}

/** `data` in a file of a fresh temp directory, removed after the test. */
async function tempFile(data: Buffer): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bhw-digest-'));
  closer.add({ close: () => rm(dir, { recursive: true, force: true }) });
  const path = join(dir, 'file');
  await writeFile(path, data);
  return path;
}

describe('stream mode: the digest goes in a trailer of the chunked body', () => {
  test.each(['sha-256', 'sha-512'] as const)('%s: Trailer announces Content-Digest and Repr-Digest, and they end the body, byte by byte', async (digest) => {
    const wire = closer.add(await startWireServer());
    const data = pattern(3500);
    const upload = new BufferedHttpWritable(wire.url, { highWaterMark: 1000, digest });
    expect((await runUpload(upload, chunksOf(data, [700]))).error).toBeUndefined();

    const [request] = wire.requests;
    expect(request!.head).toMatch(/^transfer-encoding: chunked$/im);
    expect(request!.head).toMatch(/^trailer: Content-Digest, Repr-Digest$/im);
    expect(request!.chunkSizes).toEqual([1000, 1000, 1000, 500]);
    const value = `${digest}=:${digestOf(digest, data).toString('base64')}:`;
    expect(request!.trailers).toBe(`Content-Digest: ${value}\r\nRepr-Digest: ${value}\r\n`);
  });

  test('with a Content-Encoding of the caller, only Content-Digest: the representation is not what was hashed', async () => {
    const wire = closer.add(await startWireServer());
    const data = pattern(1200);
    const upload = new BufferedHttpWritable(wire.url, { highWaterMark: 1000, digest: 'sha-256', headers: { 'content-encoding': 'gzip' } });
    expect((await runUpload(upload, [data])).error).toBeUndefined();
    const [request] = wire.requests;
    expect(request!.head).toMatch(/^trailer: Content-Digest$/im);
    expect(request!.trailers).toBe(`Content-Digest: ${contentDigestField('sha-256', digestOf('sha-256', data))}\r\n`);
  });

  test('an empty body ends with the digest of nothing', async () => {
    const wire = closer.add(await startWireServer());
    const upload = new BufferedHttpWritable(wire.url, { digest: 'sha-256' });
    expect((await runUpload(upload, [])).error).toBeUndefined();
    expect(wire.requests[0]!.trailers).toMatch(/^Content-Digest: sha-256=:47DEQpj8HBSa\+\/TImW\+5JCeuQeRkm5NMpJWZG3hSuFU=:\r\n/);
  });

  test('without the digest: no Trailer, no trailers', async () => {
    const wire = closer.add(await startWireServer());
    const upload = new BufferedHttpWritable(wire.url, { highWaterMark: 1000 });
    expect((await runUpload(upload, [pattern(1500)])).error).toBeUndefined();
    expect(wire.requests[0]!.head).not.toMatch(/^trailer:/im);
    expect(wire.requests[0]!.trailers).toBe('');
  });

  test('behind Expect: 100-continue the trailers still end the body', async () => {
    const server = closer.add(await startDigestServer());
    const data = body();
    const upload = new BufferedHttpWritable(server.url, { highWaterMark: 4096, digest: 'sha-256', headers: { expect: '100-continue' } });
    expect((await runUpload(upload, [data])).error).toBeUndefined();
    expect(server.stored[0]!.verified).toEqual(['content-digest (trailer)', 'repr-digest (trailer)']);
    expect(server.bytes()).toEqual(data);
  });

  test('a verifying server checks both trailers', async () => {
    const server = closer.add(await startDigestServer());
    const data = body();
    const upload = new BufferedHttpWritable(server.url, { highWaterMark: 4096, digest: 'sha-512' });
    expect((await runUpload(upload, [data])).error).toBeUndefined();
    expect(server.stored[0]!.verified).toEqual(['content-digest (trailer)', 'repr-digest (trailer)']);
    expect(server.bytes()).toEqual(data);
  });
});

describe('stream mode: a byte flipped on the way', () => {
  test('with the digest, the upload fails saying the server saw corrupted bytes, and nothing is stored', async () => {
    const server = closer.add(await startDigestServer());
    const proxy = closer.add(await startFaultProxy(server.url));
    proxy.flipOnce('FLIP-ME');
    const upload = new BufferedHttpWritable(proxy.url(server.url), { highWaterMark: 4096, digest: 'sha-256' });
    const { error } = await runUpload(upload, [body()]);

    expect(proxy.flips).toBe(1);
    expect(error).toMatchObject({ name: 'DigestMismatchError', code: ErrorCodes.DIGEST_MISMATCH, statusCode: 400 });
    expect(error!.message).toMatch(/the server saw corrupted bytes/);
    expect(server.mismatches).toBe(1);
    expect(server.stored).toHaveLength(0);
  });

  test('without the digest, the flipped byte is stored and the upload succeeds', async () => {
    const server = closer.add(await startDigestServer());
    const proxy = closer.add(await startFaultProxy(server.url));
    proxy.flipOnce('FLIP-ME');
    const data = body();
    const upload = new BufferedHttpWritable(proxy.url(server.url), { highWaterMark: 4096 });
    expect((await runUpload(upload, [data])).error).toBeUndefined();

    const stored = server.bytes();
    expect(stored.length).toBe(data.length);
    expect([...stored].filter((byte, index) => byte !== data[index])).toHaveLength(1);
  });
});

describe('stream mode: a sized body', () => {
  test('contentLength with digest is refused: a body with Content-Length has no trailers', () => {
    expect(() => new BufferedHttpWritable('http://127.0.0.1:9/', { contentLength: 10, digest: 'sha-256' })).toThrow(
      /digest in stream mode goes in a trailer, which a body with contentLength cannot carry.*contentLength 10 with digest 'sha-256'/,
    );
  });

  test('an algorithm RFC 9530 does not list as active is refused', () => {
    expect(() => new BufferedHttpWritable('http://127.0.0.1:9/', { digest: 'md5' as never })).toThrow(
      `digest must be one of 'sha-256', 'sha-512', received "md5"`,
    );
  });

  test('uploadFile hashes the file first and sends the digest as headers with Content-Length', async () => {
    const data = body();
    const path = await tempFile(data);
    const wire = closer.add(await startWireServer());
    await uploadFile(path, wire.url, { highWaterMark: 4096, digest: 'sha-256' });

    const [request] = wire.requests;
    const value = contentDigestField('sha-256', digestOf('sha-256', data));
    expect(request!.head).toMatch(new RegExp(`^content-length: ${data.length}$`, 'im'));
    expect(request!.head).toContain(`\r\ncontent-digest: ${value}\r\n`);
    expect(request!.head).toContain(`\r\nrepr-digest: ${value}\r\n`);
    expect(request!.head).not.toMatch(/^trailer:/im);
    expect(request!.body).toEqual(data);
  });

  test('uploadFile through the flipping proxy fails saying the server saw corrupted bytes', async () => {
    const path = await tempFile(body());
    const server = closer.add(await startDigestServer());
    const proxy = closer.add(await startFaultProxy(server.url));
    proxy.flipOnce('FLIP-ME');
    await expect(uploadFile(path, proxy.url(server.url), { highWaterMark: 4096, digest: 'sha-256' })).rejects.toMatchObject({
      code: ErrorCodes.DIGEST_MISMATCH,
    });
    expect(server.stored).toHaveLength(0);
  });
});

describe('uploadFile: hashing the file before the upload', () => {
  test('declareSize: false sends a chunked body with the digest in trailers, in one read', async () => {
    const data = body();
    const path = await tempFile(data);
    const wire = closer.add(await startWireServer());
    await uploadFile(path, wire.url, { highWaterMark: 4096, digest: 'sha-256', declareSize: false });
    const value = contentDigestField('sha-256', digestOf('sha-256', data));
    expect(wire.requests[0]!.head).toMatch(/^transfer-encoding: chunked$/im);
    expect(wire.requests[0]!.trailers).toBe(`Content-Digest: ${value}\r\nRepr-Digest: ${value}\r\n`);
  });

  test('an abort while hashing ends the upload with AbortError and sends nothing', async () => {
    const path = await tempFile(body());
    const wire = closer.add(await startWireServer());
    const signal = AbortSignal.abort();
    await expect(uploadFile(path, wire.url, { digest: 'sha-256', signal })).rejects.toMatchObject({ name: 'AbortError' });
    expect(wire.requests).toHaveLength(0);
  });

  test('a descriptor that cannot be read fails with SourceReadError before any request', async () => {
    const path = await tempFile(body());
    const writeOnly = await open(path, 'a');
    closer.add({ close: () => writeOnly.close() });
    const wire = closer.add(await startWireServer());
    await expect(uploadFile(writeOnly.fd, wire.url, { digest: 'sha-256' })).rejects.toMatchObject({ code: ErrorCodes.SOURCE_READ, systemCode: 'EBADF' });
    expect(wire.requests).toHaveLength(0);
  });
});
