/**
 * The fault proxy half-closes like a real proxy: a server that answers early
 * and ends its side is seen through it as an answer followed by end-of-file,
 * while the client may go on sending; never as a reset.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { BufferedHttpWritable, HttpStatusError } from '../../lib/index.js';
import { chunksOf, pattern } from '../helpers/data.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { Closer, runUpload } from '../helpers/outcome.js';

const closer = new Closer();
afterEach(() => closer.closeAll());

const ANSWER = 'HTTP/1.1 413 Payload Too Large\r\ncontent-type: text/plain\r\ncontent-length: 8\r\nconnection: close\r\n\r\ntoo big\n';

/** Answers 413 once the request head is in, ends its side (FIN) and reads on to the client's end, counting the bytes. */
async function startEarlyAnswerServer(): Promise<{ port: number; url: string; received: Promise<number>; close(): Promise<void> }> {
  let report!: (bytes: number) => void;
  const received = new Promise<number>((resolve) => (report = resolve));
  const sockets = new Set<Socket>();
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    let head = '';
    let bytes = 0;
    socket.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (head.includes('\r\n\r\n')) return;
      head += chunk.toString('latin1');
      if (head.includes('\r\n\r\n')) socket.end(ANSWER);
    });
    socket.on('end', () => {
      report(bytes);
      socket.destroy();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `http://127.0.0.1:${port}/upload`,
    received,
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

describe('fault proxy, pass: a server that answers and ends its side', () => {
  test('the client reads the answer and end-of-file, and every byte it sends after them still reaches the server', async () => {
    const server = closer.add(await startEarlyAnswerServer());
    const proxy = closer.add(await startFaultProxy({ port: server.port }));
    const client = connect({ port: proxy.port, host: '127.0.0.1', allowHalfOpen: true });
    const errors: Error[] = [];
    client.on('error', (error) => errors.push(error));
    const closed = once(client, 'close');
    let answer = '';
    client.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    const head = 'POST /upload HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n';
    client.write(head);
    await once(client, 'end');
    expect(answer).toBe(ANSWER);
    // The upload side is still open: what follows the answer is forwarded, then the FIN.
    const rest = pattern(256 * 1024);
    client.end(rest);
    expect(await server.received).toBe(head.length + rest.length);
    await closed;
    expect(errors).toEqual([]);
  });

  test('an upload through it ends with the early 413 as an HttpStatusError', async () => {
    const server = closer.add(await startEarlyAnswerServer());
    const proxy = closer.add(await startFaultProxy({ port: server.port }));
    const upload = new BufferedHttpWritable(proxy.url(server.url), { highWaterMark: 64 * 1024 });
    const { error } = await runUpload(upload, chunksOf(pattern(1024 * 1024), [64 * 1024]));
    expect(error).toBeInstanceOf(HttpStatusError);
    expect(error).toMatchObject({ code: 'ERR_BHW_HTTP_STATUS', statusCode: 413, body: 'too big\n' });
  });
});
