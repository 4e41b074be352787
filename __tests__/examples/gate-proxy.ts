/**
 * An HTTP proxy on 127.0.0.1, port 0, in front of one origin (Azurite here),
 * that records every request and lets a test decide, per request, to hold it
 * (never answered until `close()`: a block the service is still taking when
 * the uploader is killed) or to answer it itself (a refusal).
 */
import { once } from 'node:events';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface GateRequest {
  method: string;
  url: URL;
}

export interface GateProxy {
  /** `http://127.0.0.1:PORT`. */
  origin: string;
  requests: GateRequest[];
  hold: ((request: GateRequest) => boolean) | undefined;
  answer: ((request: GateRequest) => { status: number; body: string } | undefined) | undefined;
  close(): Promise<void>;
}

export async function startGateProxy(target: string): Promise<GateProxy> {
  const held: ServerResponse[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const seen = { method: req.method!, url: new URL(req.url!, target) };
    gate.requests.push(seen);
    if (gate.hold?.(seen)) {
      req.resume();
      held.push(res);
      return;
    }
    const own = gate.answer?.(seen);
    if (own) {
      req.resume();
      res.writeHead(own.status, { 'content-type': 'application/xml' }).end(own.body);
      return;
    }
    const forwarded = httpRequest(seen.url, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode!, answer.headers);
      answer.pipe(res);
    });
    forwarded.on('error', () => res.destroy());
    req.pipe(forwarded);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const gate: GateProxy = {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: [],
    hold: undefined,
    answer: undefined,
    async close() {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
  return gate;
}
