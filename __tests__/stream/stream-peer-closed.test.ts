/**
 * A server that closes the connection without answering while a stream-mode
 * body is still going out: the upload fails with a NetworkError whose
 * `causeCode` names the socket error (EPIPE or ECONNRESET, whichever the
 * kernel gives), whichever route the error took to the library — the body
 * write's callback or got's 'error' event. Users branch on `causeCode`.
 *
 * The server is a raw `net` server, so nothing answers: it accepts, then
 * destroys the socket, at once or once the request head is in.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { BufferedHttpWritable, NetworkError } from '../../lib/index.js';
import { chunksOf, pattern } from '../helpers/data.js';
import { Closer, runUpload } from '../helpers/outcome.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const highWaterMark = 256 * KiB;
const chunks = chunksOf(pattern(8 * MiB, 5), [64 * KiB]);

const closer = new Closer();
afterEach(() => closer.closeAll());

type Closing = (socket: Socket) => void;

/** Closes as soon as the connection is accepted: the body's first write meets the closed peer. */
const onAccept: Closing = (socket) => socket.destroy();

/** Closes once the request head is in, leaving the body unread (the kernel then resets). */
const afterHead: Closing = (socket) => {
  let head = '';
  socket.on('data', (chunk: Buffer) => {
    head += chunk.toString('latin1');
    if (head.includes('\r\n\r\n')) socket.destroy();
  });
};

async function startClosingServer(closing: Closing): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    closing(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/upload`,
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

describe('the server closes without answering while the body is being written', () => {
  test.each([
    ['on accept', onAccept],
    ['after the request head', afterHead],
  ])('%s: NetworkError with causeCode EPIPE/ECONNRESET and how far it got', async (_when, closing) => {
    const server = closer.add(await startClosingServer(closing));
    const upload = new BufferedHttpWritable(server.url, { highWaterMark });
    const { error, finished } = await runUpload(upload, chunks);
    expect(finished).toBe(false);
    expect(error).toBeInstanceOf(NetworkError);
    expect(error).toMatchObject({ code: 'ERR_BHW_NETWORK', bytesAcknowledged: 0 });
    expect(['EPIPE', 'ECONNRESET']).toContain(error!.causeCode);
    // The message names the code it carries; the cause keeps it too.
    expect(error!.message).toContain(`(${error!.causeCode as string})`);
    expect(error!.cause).toMatchObject({ code: error!.causeCode });
    expect(error!.bytesWritten).toBeGreaterThan(0);
    expect(error!.bytesWritten).toBeGreaterThanOrEqual(error!.bytesSent as number);
    expect(upload.bytesAcknowledged).toBe(0);
  });
});
