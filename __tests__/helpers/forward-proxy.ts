/**
 * A small forward HTTP proxy on 127.0.0.1, port 0, that counts what passes:
 * `CONNECT host:port` tunnels (piped both ways to the target) and
 * absolute-URI requests (`POST http://host/path`, forwarded and answered
 * back). With `credentials`, anything without the matching
 * `Proxy-Authorization: Basic` is answered 407; with `connectStatus`, every
 * CONNECT is refused with that status (a proxy allowing CONNECT to 443 only).
 */
import { once } from 'node:events';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';

export interface ForwardProxy {
  /** `http://127.0.0.1:PORT` (without credentials). */
  readonly url: string;
  /** `host:port` of each CONNECT tunnel opened. */
  readonly tunnels: string[];
  /** Absolute URIs of the requests forwarded. */
  readonly forwarded: string[];
  /** Requests and tunnels refused with 407. */
  refused: number;
  close(): Promise<void>;
}

export async function startForwardProxy({ credentials, connectStatus }: { credentials?: string; connectStatus?: number } = {}): Promise<ForwardProxy> {
  const sockets = new Set<Socket | Duplex>();
  const track = (socket: Socket | Duplex): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  const expected = credentials === undefined ? undefined : `Basic ${Buffer.from(credentials).toString('base64')}`;
  const authorized = (request: IncomingMessage): boolean => expected === undefined || request.headers['proxy-authorization'] === expected;

  const server: Server = createServer((request, response) => {
    if (!authorized(request)) {
      proxy.refused++;
      request.resume();
      response.writeHead(407, { 'proxy-authenticate': 'Basic realm="test"' }).end();
      return;
    }
    const target = new URL(request.url ?? '');
    proxy.forwarded.push(target.href);
    const headers = { ...request.headers };
    delete headers['proxy-authorization'];
    const upstream = httpRequest(target, { method: request.method, headers }, (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(response);
    });
    upstream.on('error', () => response.destroy());
    request.pipe(upstream);
  });
  server.on('connection', track);
  server.on('connect', (request: IncomingMessage, client: Duplex, head: Buffer) => {
    track(client);
    if (!authorized(request)) {
      proxy.refused++;
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\n\r\n');
      return;
    }
    if (connectStatus !== undefined) {
      proxy.refused++;
      client.end(`HTTP/1.1 ${connectStatus} Refused\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    const [host, port] = (request.url ?? '').split(/:(?=\d+$)/) as [string, string];
    proxy.tunnels.push(request.url ?? '');
    const upstream = connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    track(upstream);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');

  const proxy: ForwardProxy = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    tunnels: [],
    forwarded: [],
    refused: 0,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}
