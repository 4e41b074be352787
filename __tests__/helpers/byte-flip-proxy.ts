/**
 * A real HTTP proxy (node:http) on 127.0.0.1, port 0, in front of one
 * origin, that inverts one byte of the body of chosen requests: the
 * corruption a bad NIC, RAM stick or middlebox makes, which TCP's checksum
 * let through. Unlike the fault proxy it knows HTTP, so the flipped byte is
 * always a body byte, never a header's.
 *
 *   const proxy = await startByteFlipProxy(server.url, { method: 'PATCH', requests: [2], at: 1000 });
 *   new BufferedHttpWritable(proxy.url(server.url), ...)
 *
 * The Host header is passed on as received, so a server that builds URLs
 * from it (a tus Location) points back at the proxy.
 */
import { once } from 'node:events';
import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface ByteFlipPlan {
  /** Which requests are candidates (default `PATCH`). */
  method?: string;
  /** The 1-based indexes among the candidates whose body gets a byte flipped, or `'all'` (default `[1]`). */
  requests?: number[] | 'all';
  /** The body offset of the byte inverted (default 0); a body shorter than that passes untouched. */
  at?: number;
}

export interface ByteFlipProxy {
  /** `http://127.0.0.1:PORT`. */
  readonly origin: string;
  /** `url` with its origin replaced by the proxy's. */
  url(url: string): string;
  /** Every request passed on: method, path and headers as received. */
  readonly requests: Array<{ method: string; url: string; headers: IncomingHttpHeaders }>;
  /** Bytes flipped so far. */
  readonly flipped: number;
  close(): Promise<void>;
}

export async function startByteFlipProxy(target: string, { method = 'PATCH', requests = [1], at = 0 }: ByteFlipPlan = {}): Promise<ByteFlipProxy> {
  const targetOrigin = new URL(target).origin;
  // Its own agent, so close() leaves no kept-alive socket behind.
  const agent = new Agent({ keepAlive: false });
  const seen: ByteFlipProxy['requests'] = [];
  let candidates = 0;
  let flipped = 0;

  const server = createServer((request, response) => {
    seen.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers });
    const index = request.method === method ? ++candidates : 0;
    const flips = index > 0 && (requests === 'all' || requests.includes(index));
    const upstream = httpRequest(`${targetOrigin}${request.url}`, { method: request.method, headers: request.headers, agent }, (answer) => {
      response.writeHead(answer.statusCode!, answer.statusMessage, answer.headers);
      answer.pipe(response);
    });
    upstream.on('error', () => response.destroy());
    const body = flips ? new FlipAt(at, () => flipped++) : new Transform({ transform: (chunk, _encoding, callback) => callback(null, chunk) });
    pipeline(request, body, upstream).catch(() => response.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    origin,
    url: (url) => `${origin}${new URL(url).pathname}${new URL(url).search}`,
    requests: seen,
    get flipped() {
      return flipped;
    },
    close: async () => {
      server.close();
      server.closeAllConnections();
      agent.destroy();
      if (server.listening) await once(server, 'close');
    },
  };
}

/** Passes bytes on, the one at `at` inverted. */
class FlipAt extends Transform {
  #position = 0;
  readonly #at: number;
  readonly #onFlip: () => void;

  constructor(at: number, onFlip: () => void) {
    super();
    this.#at = at;
    this.#onFlip = onFlip;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const index = this.#at - this.#position;
    this.#position += chunk.length;
    if (index < 0 || index >= chunk.length) {
      callback(null, chunk);
      return;
    }
    const copy = Buffer.from(chunk);
    copy[index] = copy[index]! ^ 0xff;
    this.#onFlip();
    callback(null, copy);
  }
}
