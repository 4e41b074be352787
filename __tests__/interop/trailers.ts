/**
 * Request trailers through a proxy: a loopback origin that records, for each
 * request, the body's digest and the trailers that reached it, and senders
 * that end a chunked HTTP/1.1 body (or an HTTP/2 stream) with a
 * `Content-Digest` trailer announced in `Trailer:`, as RFC 9530 allows.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { connect as http2Connect } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import { pattern } from '../helpers/data.js';

/** 1 MiB, sent in 64 KiB chunks: several chunks on the wire before the trailer section. */
export const TRAILER_BODY = pattern(1024 * 1024, 31);

/** The trailer every sender ends its body with: the body's RFC 9530 digest. */
export const CONTENT_DIGEST = `sha-256=:${createHash('sha256').update(TRAILER_BODY).digest('base64')}:`;

/** One request as the origin saw it. */
export interface ArrivedRequest {
  headers: IncomingHttpHeaders;
  /** The trailer fields that reached the origin, names in lower case. */
  trailers: Record<string, string | undefined>;
  bytes: number;
  sha256: string;
}

export interface TrailerOrigin {
  /** `127.0.0.1:PORT`, as proxy configs want it. */
  address: string;
  url: string;
  arrived: ArrivedRequest[];
  close(): Promise<void>;
}

/** A node:http origin on 127.0.0.1, port 0: reads each body to its end, records it and its trailers, answers 200. */
export async function startTrailerOrigin(): Promise<TrailerOrigin> {
  const arrived: ArrivedRequest[] = [];
  const server = createServer((request, response) => {
    const hash = createHash('sha256');
    let bytes = 0;
    request.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      bytes += chunk.length;
    });
    request.on('end', () => {
      // `trailers` is filled once the body has ended.
      arrived.push({ headers: request.headers, trailers: { ...request.trailers }, bytes, sha256: hash.digest('hex') });
      response.end('ok');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    address,
    url: `http://${address}`,
    arrived,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

export interface SendOptions {
  /** Trust this CA (an https URL). */
  ca?: string;
  /** Send `POST http://origin/…` to this forward proxy (absolute form). */
  forwardProxy?: string;
  /** Open a CONNECT tunnel through this proxy and send inside it. */
  tunnelProxy?: string;
}

const REQUEST_HEADERS: OutgoingHttpHeaders = { 'content-type': 'application/octet-stream', trailer: 'Content-Digest' };

/** HTTP/1.1, chunked, `Trailer: Content-Digest`, the trailer after the last chunk; resolves with the answer's status. */
export async function sendWithTrailer(url: string, { ca, forwardProxy, tunnelProxy }: SendOptions = {}): Promise<number> {
  const target = new URL(url);
  const tunnel = tunnelProxy ? await openTunnel(tunnelProxy, target.host) : undefined;
  const options = {
    method: 'POST',
    headers: { ...REQUEST_HEADERS, host: target.host },
    agent: false as const,
    ...(forwardProxy ? proxied(forwardProxy, url) : { host: target.hostname, port: target.port, path: target.pathname }),
    ...(ca ? { ca } : {}),
    ...(tunnel ? { createConnection: () => tunnel } : {}),
  };
  const request = target.protocol === 'https:' ? httpsRequest(options) : httpRequest(options);
  const answered = once(request, 'response') as Promise<[IncomingMessage]>;
  for (let offset = 0; offset < TRAILER_BODY.length; offset += 65_536) request.write(TRAILER_BODY.subarray(offset, offset + 65_536));
  request.addTrailers({ 'Content-Digest': CONTENT_DIGEST });
  request.end();
  const [response] = await answered;
  response.resume();
  await once(response, 'end');
  tunnel?.destroy();
  return response.statusCode ?? 0;
}

/** HTTP/2 over TLS: DATA frames, then a trailing HEADERS frame with the digest; resolves with the answer's status. */
export async function sendWithTrailerH2(url: string, ca: string): Promise<number> {
  const target = new URL(url);
  const session = http2Connect(target.origin, { ca });
  try {
    const stream = session.request({ ':method': 'POST', ':path': target.pathname, ...REQUEST_HEADERS }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'content-digest': CONTENT_DIGEST }));
    const answered = once(stream, 'response') as Promise<[Record<string, string | number>]>;
    stream.end(TRAILER_BODY);
    const [headers] = await answered;
    stream.resume();
    await once(stream, 'end');
    return Number(headers[':status']);
  } finally {
    session.close();
  }
}

function proxied(proxy: string, url: string): { host: string; port: string; path: string } {
  const { hostname, port } = new URL(proxy);
  return { host: hostname, port, path: url };
}

/** A socket to `authority` through the proxy's CONNECT, once the proxy said 200. */
async function openTunnel(proxy: string, authority: string): Promise<Socket> {
  const { hostname, port } = new URL(proxy);
  const socket = netConnect(Number(port), hostname);
  await once(socket, 'connect');
  socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
  let head = '';
  while (!head.includes('\r\n\r\n')) {
    const [chunk] = (await once(socket, 'data')) as [Buffer];
    head += chunk.toString('latin1');
  }
  if (!/^HTTP\/1\.[01] 200/.test(head)) throw new Error(`CONNECT refused: ${head.split('\r\n')[0]}`);
  return socket;
}
