import { afterEach, describe, expect, test } from '@jest/globals';
import { pipeline } from 'node:stream/promises';
import { BufferedHttpWritable } from '../../lib/index.js';
import { pattern, readableOf } from '../helpers/data.js';
import { sha256, startSink, type Sink } from '../helpers/sink-server.js';

let server: Sink | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** Bytes a PATCH may store before the server cuts its connection. */
const QUOTA = 300;

/**
 * A tus endpoint on a link that drops every PATCH after QUOTA bytes: it keeps
 * what arrived (as a real server does) and cuts the connection. A PATCH whose
 * rest fits in the quota completes.
 */
async function startFlakyTus(): Promise<{ sink: Sink; stored(): Buffer; patches(): number }> {
  const parts: Buffer[] = [];
  let patches = 0;
  const offset = (): number => parts.reduce((sum, part) => sum + part.length, 0);
  const sink = await startSink((request, response) => {
    if (request.method === 'POST') {
      request.resume();
      response.writeHead(201, { location: '/files/1', 'tus-resumable': '1.0.0' }).end();
    } else if (request.method === 'HEAD') {
      response.writeHead(200, { 'upload-offset': String(offset()), 'tus-resumable': '1.0.0' }).end();
    } else if (request.method === 'PATCH') {
      patches++;
      if (Number(request.headers['upload-offset']) !== offset()) {
        request.resume();
        response.writeHead(409).end();
        return;
      }
      let taken = 0;
      request.on('data', (chunk: Buffer) => {
        if (taken >= QUOTA) return;
        const part = chunk.subarray(0, QUOTA - taken);
        parts.push(part);
        taken += part.length;
        if (taken >= QUOTA && Number(request.headers['content-length']) > QUOTA) request.socket.destroy();
      });
      request.on('end', () => response.writeHead(204, { 'upload-offset': String(offset()), 'tus-resumable': '1.0.0' }).end());
    }
  });
  return { sink, stored: () => Buffer.concat(parts), patches: () => patches };
}

describe('tus over a link that drops every request part-way', () => {
  test('retry.limit counts failures without progress, so an upload that advances on every attempt completes', async () => {
    const flaky = await startFlakyTus();
    server = flaky.sink;
    const data = pattern(2000);
    const upload = new BufferedHttpWritable(`${server.url}/files`, { mode: 'tus', highWaterMark: 1024, retry: { limit: 1, backoffLimit: 1 } });
    await pipeline(readableOf([data]), upload);
    expect(sha256(flaky.stored())).toBe(sha256(data));
    expect(upload.bytesAcknowledged).toBe(data.length);
    // Far more failed attempts than retry.limit allows in a row.
    expect(flaky.patches()).toBeGreaterThan(4);
  });
});
