import { afterEach, describe, expect, test } from '@jest/globals';
import { once } from 'node:events';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import got from 'got';
import { BufferedHttpWritable } from '../../lib/index.js';
import { pattern } from '../helpers/data.js';
import { sha256, startSink, type Sink } from '../helpers/sink-server.js';

let server: Sink | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('stream mode with contentLength: a 2xx that comes once the last byte arrived, before end()', () => {
  test('is the final answer, not an early one: end() then finishes with every byte acknowledged', async () => {
    server = await startSink();
    const data = pattern(2048);
    // The client's own socket layer tells when the whole answer has been read, before end() is called.
    let answerRead!: () => void;
    const answered = new Promise<void>((resolve) => (answerRead = resolve));
    const client = got.extend({
      request: ((url: URL, options: object, callback?: (response: IncomingMessage) => void) => {
        const request = httpRequest(url, options, callback);
        request.on('response', (response: IncomingMessage) => response.on('end', answerRead));
        return request;
      }) as never,
    });
    const upload = new BufferedHttpWritable(server.url, { highWaterMark: 1024, contentLength: data.length, got: client });
    upload.write(data.subarray(0, 1024));
    upload.write(data.subarray(1024));
    await answered;
    await new Promise(setImmediate); // got passes the answer's end on in the same or the next turn
    expect(upload.writableEnded).toBe(false);
    upload.end();
    await once(upload, 'finish');
    expect(upload.response?.statusCode).toBe(200);
    expect(upload.bytesAcknowledged).toBe(2048);
    expect(server.received[0]!.sha256).toBe(sha256(data));
  });
});
