import { afterEach, describe, expect, test } from '@jest/globals';
import got from 'got';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { BufferedHttpWritable } from '../../lib/index.js';
import { pattern, readableOf } from '../helpers/data.js';
import { sha256 } from '../helpers/sink-server.js';
import { startTusServer, type TusTestServer } from '../helpers/tus-server.js';

let storage: TusTestServer | undefined;
let endpoint: Server | undefined;
afterEach(async () => {
  await storage?.close();
  if (endpoint) {
    endpoint.closeAllConnections();
    endpoint.close();
    await once(endpoint, 'close');
  }
  storage = endpoint = undefined;
});

describe('tus: credentials never follow a Location on another origin', () => {
  test('the storage origin gets the bytes but no Authorization, Cookie or Proxy-Authorization', async () => {
    storage = await startTusServer();
    const storageUrl = storage.url;
    // The endpoint the caller authenticates to creates the upload on a storage
    // host of another origin and answers with its Location, as some gateways do.
    endpoint = createServer((request, response) => {
      request.resume();
      void got.post(storageUrl, { headers: { 'tus-resumable': '1.0.0', 'upload-defer-length': '1' }, throwHttpErrors: false }).then((created) => {
        response.writeHead(201, { location: created.headers.location!, 'tus-resumable': '1.0.0' });
        response.end();
      });
    });
    endpoint.listen(0, '127.0.0.1');
    await once(endpoint, 'listening');
    const endpointUrl = `http://127.0.0.1:${(endpoint.address() as AddressInfo).port}/files`;
    expect(new URL(endpointUrl).origin).not.toBe(new URL(storageUrl).origin);

    const data = pattern(5000);
    const upload = new BufferedHttpWritable(endpointUrl, {
      mode: 'tus',
      highWaterMark: 2048,
      headers: { Authorization: 'Bearer endpoint-only', 'x-trace': 'kept' },
      got: got.extend({ headers: { cookie: 'session=endpoint-only', 'proxy-authorization': 'Basic c2VjcmV0' } }),
    });
    await pipeline(readableOf([data]), upload);

    const stored = await storage.stored(upload.uploadUrl!);
    expect(stored.sha256).toBe(sha256(data));
    const patches = storage.requests.filter((request) => request.method === 'PATCH');
    expect(patches.length).toBeGreaterThan(0);
    for (const request of patches) {
      expect(request.headers.authorization).toBeUndefined();
      expect(request.headers.cookie).toBeUndefined();
      expect(request.headers['proxy-authorization']).toBeUndefined();
      expect(request.headers['x-trace']).toBe('kept');
    }
  });
});
