/**
 * An early answer followed by a reset is reported as that answer (invariant 6),
 * even when the write that meets the reset comes before anything read the
 * answer: the case HAProxy's `http-request return`/`deny` makes in most runs.
 *
 * The server is a raw `net` server, as a proxy answering at header time is: it
 * reads the request head, writes a 413 and resets the connection (RST) while
 * the client is still sending. The next buffer is then written in the same
 * turn of the event loop, before any poll could read the answer, so the write
 * fails first — deterministically, without timing.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { BufferedHttpWritable, HttpStatusError } from '../../lib/index.js';
import { pattern } from '../helpers/data.js';

const KiB = 1024;
const highWaterMark = 64 * KiB;
const ANSWER = 'body over the limit';

interface ResettingServer {
  url: string;
  /** Called in the same turn as the reset, before the client could read anything. */
  onReset?: () => void;
  close(): Promise<void>;
}

let server: ResettingServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** Answers 413 as soon as the request head is in, then resets the connection without reading the body. */
async function startResettingServer(): Promise<ResettingServer> {
  const sockets = new Set<Socket>();
  const net: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let head = '';
    socket.on('data', (chunk: Buffer) => {
      if (head.includes('\r\n\r\n')) return;
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.write(`HTTP/1.1 413 Payload Too Large\r\ncontent-type: text/plain\r\ncontent-length: ${ANSWER.length}\r\nconnection: close\r\n\r\n${ANSWER}`);
      socket.resetAndDestroy();
      result.onReset?.();
    });
  });
  net.listen(0, '127.0.0.1');
  await once(net, 'listening');
  const result: ResettingServer = {
    url: `http://127.0.0.1:${(net.address() as AddressInfo).port}/upload`,
    async close() {
      for (const socket of sockets) socket.destroy();
      net.close();
      await once(net, 'close');
    },
  };
  return result;
}

describe('an early 413 followed by a reset, met by a write before the answer was read', () => {
  test.each([
    ['chunked', {}],
    ['contentLength', { contentLength: 4 * highWaterMark }],
  ])('%s: ERR_BHW_HTTP_STATUS 413 with the body, not ECONNRESET/EPIPE', async (_kind, options) => {
    server = await startResettingServer();
    const upload = new BufferedHttpWritable(server.url, { highWaterMark, ...options });
    const failed = once(upload, 'error') as Promise<[Error]>;
    // The second buffer goes to the socket in the turn of the reset.
    server.onReset = () => upload.write(pattern(highWaterMark, 2));
    upload.write(pattern(highWaterMark, 1));
    const [error] = await failed;
    expect(error).toBeInstanceOf(HttpStatusError);
    expect(error).toMatchObject({ code: 'ERR_BHW_HTTP_STATUS', statusCode: 413, body: ANSWER, bytesAcknowledged: 0 });
  });
});
