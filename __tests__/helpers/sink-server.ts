import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as the sink received it. */
export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  sha256: string;
}

/**
 * Decides the answer to a request. Return nothing for the default 200 with
 * `{ bytes, sha256 }` after the whole body was read.
 */
export type SinkHandler = (request: IncomingMessage, response: ServerResponse, sink: Sink) => void | 'default';

export interface Sink {
  readonly url: string;
  readonly server: Server;
  /** Requests whose body was read to the end, in arrival order. */
  readonly received: ReceivedRequest[];
  /** Requests that arrived, including those still being read. */
  requestCount: number;
  /** Requests being handled at this moment, and the most ever at once. */
  inFlight: number;
  maxInFlight: number;
  close(): Promise<void>;
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Reads a request body to the end and records it. */
export async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * A real HTTP server on 127.0.0.1, port 0, that records every request body
 * and answers 200 `{ bytes, sha256 }` unless a handler decides otherwise.
 */
export async function startSink(handler?: SinkHandler): Promise<Sink> {
  const sink: Sink = {
    url: '',
    server: undefined as unknown as Server,
    received: [],
    requestCount: 0,
    inFlight: 0,
    maxInFlight: 0,
    close: async () => {
      sink.server.closeAllConnections();
      sink.server.close();
      await once(sink.server, 'close');
    },
  };
  const server = createServer((request, response) => {
    sink.requestCount++;
    sink.inFlight++;
    sink.maxInFlight = Math.max(sink.maxInFlight, sink.inFlight);
    response.on('close', () => sink.inFlight--);
    if (handler && handler(request, response, sink) !== 'default') return;
    void recordAndAnswer(request, response, sink);
  });
  (sink as { server: Server }).server = server;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  (sink as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return sink;
}

/**
 * The default answer: read everything, record it, answer 200 with its size and
 * digest. Resolves undefined, recording nothing, when the client's connection
 * ended before the body did (a cut or reset upload): callers run it with
 * `void`, so a rejection here would be unhandled.
 */
export async function recordAndAnswer(request: IncomingMessage, response: ServerResponse, sink: Sink, status = 200): Promise<ReceivedRequest | undefined> {
  let body: Buffer;
  try {
    body = await readBody(request);
  } catch {
    return undefined;
  }
  const received: ReceivedRequest = {
    method: request.method ?? '',
    url: request.url ?? '',
    headers: request.headers,
    body,
    sha256: sha256(body),
  };
  sink.received.push(received);
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify({ bytes: body.length, sha256: received.sha256 }));
  return received;
}
