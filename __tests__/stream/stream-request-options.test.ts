import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import got from 'got';
import { pipeline } from 'node:stream/promises';
import { BufferedHttpWritable, HttpStatusError } from '../../lib/index.js';
import { pattern, readableOf } from '../helpers/data.js';
import { readBody, sha256, startSink, type Sink } from '../helpers/sink-server.js';

describe('method, headers and a custom got instance', () => {
  let sink: Sink;
  beforeEach(async () => {
    sink = await startSink();
  });
  afterEach(async () => {
    await sink.close();
  });

  test('PUT with extra headers', async () => {
    const data = pattern(5000);
    const upload = new BufferedHttpWritable(`${sink.url}/files/a.bin?v=1`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream', 'x-upload-id': 'abc' },
      highWaterMark: 1024,
    });
    await pipeline(readableOf([data]), upload);
    const [request] = sink.received;
    expect(request).toMatchObject({ method: 'PUT', url: '/files/a.bin?v=1', sha256: sha256(data) });
    expect(request!.headers).toMatchObject({ 'content-type': 'application/octet-stream', 'x-upload-id': 'abc', 'transfer-encoding': 'chunked' });
  });

  test('PATCH, and a URL object', async () => {
    const upload = new BufferedHttpWritable(new URL('/p', sink.url), { method: 'PATCH' });
    await pipeline(readableOf(['hello']), upload);
    expect(sink.received[0]).toMatchObject({ method: 'PATCH', url: '/p' });
  });

  test("a got instance's hooks and headers apply to the upload", async () => {
    let hookCalls = 0;
    const client = got.extend({
      headers: { authorization: 'Bearer secret-token' },
      hooks: {
        beforeRequest: [
          (options) => {
            hookCalls++;
            options.headers['x-signed'] = 'yes';
          },
        ],
      },
    });
    const upload = new BufferedHttpWritable(sink.url, { got: client });
    await pipeline(readableOf(['abc']), upload);
    expect(hookCalls).toBe(1);
    expect(sink.received[0]!.headers).toMatchObject({ authorization: 'Bearer secret-token', 'x-signed': 'yes' });
  });
});

describe('the library decides what its guarantees depend on, whatever the got instance says', () => {
  test('throwHttpErrors and retry on the instance do not change stream mode: one request, a typed error', async () => {
    const sink = await startSink((request, response) => {
      void readBody(request).then(() => {
        response.writeHead(503, { 'retry-after': '0' });
        response.end('busy');
      });
    });
    try {
      const client = got.extend({ throwHttpErrors: true, retry: { limit: 3, methods: ['POST'] } });
      const upload = new BufferedHttpWritable(sink.url, { got: client });
      const error = await pipeline(readableOf([pattern(100)]), upload).catch((e: Error) => e);
      expect(error).toBeInstanceOf(HttpStatusError);
      expect(error).toMatchObject({ statusCode: 503, body: 'busy' });
      expect(sink.requestCount).toBe(1);
    } finally {
      await sink.close();
    }
  });
});
