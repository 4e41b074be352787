/**
 * bhw's clocks against servers that hang: curl's --max-time and
 * --connect-timeout, and the stall timeout. Each test asserts only that the
 * upload ended with exit 1 and the message naming the option, never how long
 * it took.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { runCli } from './helpers/cli.js';
import { useCliFixture } from './helpers/cli-fixture.js';
import { pattern } from './helpers/data.js';
import { startSink, type Sink } from './helpers/sink-server.js';

const data = pattern(200_000);
const fx = useCliFixture(data, { sink: false });

/** Reads every request body to the end and never answers. */
function neverAnswers(): Promise<Sink> {
  return startSink((request) => {
    request.resume();
  });
}

/** A TCP server that accepts connections and never says a word: a TLS handshake with it never ends. */
async function silentTcpServer(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('a server that accepts the upload and never answers', () => {
  let sink: Sink;
  afterEach(async () => {
    await sink.close();
  });

  test('--max-time ends it: exit 1, the message names the option', async () => {
    sink = await neverAnswers();
    const result = await runCli(['--max-time', '0.5', '--stall-timeout', '0', fx.file, sink.url]);

    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^bhw: upload failed: the upload took longer than --max-time 0\.5 s \(sent \d+ of 200000 bytes, 0 acknowledged\)\n$/);
  });

  test('--stall-timeout ends it: exit 1, the message names the option', async () => {
    sink = await neverAnswers();
    const result = await runCli(['--stall-timeout', '0.3', fx.file, sink.url]);

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^bhw: upload failed: no byte sent or acknowledged for 0\.3 s \(--stall-timeout 0\.3; 0 turns it off\) \(sent \d+ of 200000 bytes, 0 acknowledged\)\n$/,
    );
  });

  test('--stall-timeout in batch mode: a batch that is never answered', async () => {
    sink = await neverAnswers();
    const result = await runCli(['--mode', 'batch', '--retry', '0', '--stall-timeout', '0.3', fx.file, sink.url]);

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^bhw: upload failed: no byte sent or acknowledged for 0\.3 s /);
  });

  test('tus: a stalled PATCH ends with the command that continues the upload', async () => {
    sink = await startSink((request, response) => {
      request.resume();
      if (request.method === 'POST') response.writeHead(201, { location: '/files/abc', 'tus-resumable': '1.0.0' }).end();
    });
    const result = await runCli(['--mode', 'tus', '--stall-timeout', '0.3', fx.file, `${sink.url}/files`]);

    expect(result.code).toBe(1);
    const [first, second] = result.stderr.split('\n');
    expect(first).toMatch(/^bhw: upload failed: no byte sent or acknowledged for 0\.3 s .*the server holds 0 bytes of the upload\)$/);
    expect(second).toBe(`bhw: to continue: bhw --resume ${sink.url}/files/abc --mode tus --stall-timeout 0.3 ${fx.file} ${sink.url}/files`);
  });

  test('--max-time also bounds asking a tus server for its offset (--resume)', async () => {
    sink = await startSink(() => {});
    const result = await runCli(['--resume', `${sink.url}/files/abc`, '--max-time', '0.3', fx.file, `${sink.url}/files`]);

    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`bhw: cannot resume ${sink.url}/files/abc: the upload took longer than --max-time 0.3 s\n`);
  });
});

describe('--connect-timeout', () => {
  test('a TLS handshake that never completes: exit 1, the connection timed out', async () => {
    const server = await silentTcpServer();
    try {
      const result = await runCli(['--connect-timeout', '0.3', '--stall-timeout', '0', fx.file, server.url]);

      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^bhw: upload failed: Connection failed \(ETIMEDOUT\): Timeout awaiting 'secureConnect' for 300ms/);
    } finally {
      await server.close();
    }
  });
});
