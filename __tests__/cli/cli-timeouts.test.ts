/**
 * bhw's clocks against servers that hang: curl's --max-time and
 * --connect-timeout, and the stall timeout. Each test asserts only that the
 * upload ended with exit 1 and the message naming the option, never how long
 * it took.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { CLI_PATH, runCli, spawnCli } from '../helpers/cli.js';
import { useCliFixture } from '../helpers/cli-fixture.js';
import { pattern } from '../helpers/data.js';
import { startSink, type Sink } from '../helpers/sink-server.js';
import { moreThanSocketBuffersHold } from '../helpers/socket-buffers.js';

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

/**
 * The stall clock counts only while the upload waits on the network. These
 * uploads do, though the producer is quiet (stdin open, nothing more coming)
 * or done: a buffer the socket never takes, or the final answer. Everything
 * handed over counts as sent, so no byte moves after that and only the
 * stall timeout can end them.
 */
describe('--stall-timeout: a quiet producer, an upload held up by the network', () => {
  let sink: Sink;
  afterEach(async () => {
    await sink.close();
  });

  /** Never reads a request body nor answers: once the kernel's buffers are full, the client's write never completes. */
  function neverReads(): Promise<Sink> {
    return startSink(() => {});
  }

  const STALL = /^bhw: upload failed: no byte sent or acknowledged for 0\.3 s \(--stall-timeout 0\.3; 0 turns it off\) \(sent \d+ bytes, 0 acknowledged\)\n$/;

  test('stdin through the pipeline (a socket), stream mode: a buffer the socket never takes, stdin still open', async () => {
    sink = await neverReads();
    // One buffer larger than the connection can hold: handed to the socket, it never leaves.
    const bufferSize = await moreThanSocketBuffersHold();
    const input = pattern(bufferSize + 65_536);
    const cli = spawnCli(['--high-water-mark', String(bufferSize), '--stall-timeout', '0.3', '-', sink.url], { input, keepStdinOpen: true });
    const result = await cli.exited;

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(STALL);
  });

  test('stdin a shell pipe (uploadFile), stream mode: a buffer the socket never takes, the pipe still open', async () => {
    sink = await neverReads();
    const bufferSize = await moreThanSocketBuffersHold();
    const file = join(fx.dir, 'more-than-the-socket-holds.bin');
    await writeFile(file, pattern(bufferSize + 65_536));
    // cat sends the file, then copies our stdin, which stays open and says nothing: a producer gone quiet.
    const script = 'cat -- "$0" - | "$1" "$2" --high-water-mark "$3" --stall-timeout 0.3 - "$4"';
    const cli = spawnCli(['-c', script, file, process.execPath, CLI_PATH, String(bufferSize), sink.url], { executable: '/bin/sh', keepStdinOpen: true });
    await cli.waitFor('stderr', /no byte sent or acknowledged/);
    // The shell waits for cat too: end its input, and the shell exits with bhw's code.
    cli.child.stdin!.end();
    const result = await cli.exited;

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(STALL);
  });

  test('stdin a shell pipe (uploadFile) ending on a buffer boundary, stream mode: the final answer never comes', async () => {
    sink = await neverAnswers();
    // Four whole buffers: the last read is full, and the end of the input comes as a read of nothing.
    const file = join(fx.dir, 'four-buffers.bin');
    await writeFile(file, pattern(4 * 65_536));
    const script = 'cat -- "$0" | "$1" "$2" --high-water-mark 64KiB --stall-timeout 0.3 - "$3"';
    const result = await runCli(['-c', script, file, process.execPath, CLI_PATH, sink.url], { executable: '/bin/sh' });

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(STALL);
    expect(result.stderr).toContain(`(sent ${4 * 65_536} bytes, 0 acknowledged)`);
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
