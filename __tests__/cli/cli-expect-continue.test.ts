/**
 * `bhw` sends `Expect: 100-continue` for a file over 1 MiB, as curl does, so
 * a server refusing on the headers alone costs no body bytes; `--no-expect`
 * turns it off. The server is a raw socket that answers 413 as soon as the
 * request head is in, and counts every byte that comes after the head.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { runCli } from '../helpers/cli.js';
import { useCliFixture } from '../helpers/cli-fixture.js';
import { pattern } from '../helpers/data.js';

const data = pattern(4 * 1024 * 1024);
const fx = useCliFixture(data, { sink: false });

/** What the refusing server saw of one request: its head, and the body bytes after it. */
interface Seen {
  head: string;
  bodyBytes: number;
}

let server: Server | undefined;
afterEach(async () => {
  server?.close();
  if (server) await once(server, 'close');
  server = undefined;
});

/** Answers 413 to the head of every request; `seen` resolves once the client closed its connection. */
async function startRefusingServer(): Promise<{ url: string; seen: Promise<Seen> }> {
  let resolveSeen!: (seen: Seen) => void;
  const seen = new Promise<Seen>((resolve) => (resolveSeen = resolve));
  server = createServer((socket: Socket) => {
    let received = Buffer.alloc(0);
    let headEnd = -1;
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (headEnd !== -1) return;
      headEnd = received.indexOf('\r\n\r\n');
      if (headEnd !== -1) socket.write('HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    });
    socket.on('error', () => {});
    socket.on('close', () => resolveSeen({ head: received.subarray(0, headEnd).toString('latin1'), bodyBytes: received.length - headEnd - 4 }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/upload`, seen };
}

describe('bhw sends Expect: 100-continue for a file over 1 MiB', () => {
  test('a server refusing with 413 at header time receives 0 body bytes of a 4 MiB file', async () => {
    const { url, seen } = await startRefusingServer();
    const result = await runCli([fx.file, url]);
    const { head, bodyBytes } = await seen;

    expect(head.toLowerCase()).toContain('expect: 100-continue');
    expect(bodyBytes).toBe(0);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('413');
  });

  test('--no-expect: no Expect header, the body goes at once', async () => {
    const { url, seen } = await startRefusingServer();
    const result = await runCli(['--no-expect', fx.file, url]);
    const { head, bodyBytes } = await seen;

    expect(head.toLowerCase()).not.toContain('expect:');
    expect(bodyBytes).toBeGreaterThan(0);
    expect(result.code).not.toBe(0);
  });
});
