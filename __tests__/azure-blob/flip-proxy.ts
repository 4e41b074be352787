/**
 * A reverse proxy in front of Azurite that changes one byte of one block on
 * its way: the first Put Block of block `blockNumber` (1-based, in the order
 * the proxy sees Put Blocks) reaches the service with its byte at `offset`
 * inverted, every later request as it was sent. Each request's method and
 * URL (query included) is kept, to count the resends.
 */
import { once } from 'node:events';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FlipProxy {
  /** `url` with its origin replaced by the proxy's. */
  url(url: string): string;
  /** `METHOD /path?query` of every request, in arrival order. */
  readonly requests: string[];
  close(): Promise<void>;
}

export async function startFlipProxy(target: string, { blockNumber, offset }: { blockNumber: number; offset: number }): Promise<FlipProxy> {
  const upstream = new URL(target);
  const requests: string[] = [];
  let blocks = 0;
  const server = createServer((incoming: IncomingMessage, outgoing: ServerResponse) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const body = Buffer.concat(chunks);
      requests.push(`${incoming.method} ${incoming.url}`);
      if (incoming.method === 'PUT' && /[?&]comp=block(&|$)/.test(incoming.url!) && ++blocks === blockNumber) body[offset] = body[offset]! ^ 0xff;
      const forward = request(
        { host: upstream.hostname, port: upstream.port, method: incoming.method, path: incoming.url, headers: incoming.headers },
        (answer) => {
          outgoing.writeHead(answer.statusCode!, answer.headers);
          answer.pipe(outgoing);
        },
      );
      forward.on('error', () => outgoing.destroy());
      forward.end(body);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: (url) => {
      const proxied = new URL(url);
      proxied.port = String(port);
      return proxied.href;
    },
    requests,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
