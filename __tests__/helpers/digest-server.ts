import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CONTENT_DIGEST, REPR_DIGEST, digestOf, isDigestAlgorithm, parseDigestField } from '../../lib/http/digest.js';
import { readBody, sha256 } from './sink-server.js';

/** A request the server verified (or had nothing to verify) and kept. */
export interface VerifiedRequest {
  headers: IncomingHttpHeaders;
  trailers: NodeJS.Dict<string>;
  /** The body as received (before any Content-Encoding is undone): what Content-Digest covers. */
  body: Buffer;
  sha256: string;
  /** The fields checked and where they came from: `content-digest (trailer)`, `repr-digest (header)`. */
  verified: string[];
}

export interface DigestServer {
  readonly url: string;
  /** Requests kept, in arrival order: a request whose digest failed is not among them. */
  readonly stored: VerifiedRequest[];
  /** Requests refused for a digest that did not match: their header sections only, none of their bytes. */
  readonly refused: IncomingHttpHeaders[];
  readonly mismatches: number;
  /** Everything stored, in order. */
  bytes(): Buffer;
  close(): Promise<void>;
}

/**
 * A loopback server that verifies RFC 9530 digests as a careful receiver
 * does: `Content-Digest` and `Repr-Digest`, in the header section or in the
 * trailers, every member with an algorithm it knows (sha-256, sha-512),
 * against the body as received. A mismatch is answered 400 with problem
 * details (RFC 9457) naming the field, and nothing of the request is kept;
 * otherwise the body is stored and answered 200. Requests without a digest
 * are stored unchecked: that is what a flipped byte does to a server that
 * cannot check. A body over `maxBodyBytes` is answered 413.
 */
export async function startDigestServer({ maxBodyBytes = Infinity }: { maxBodyBytes?: number } = {}): Promise<DigestServer> {
  const stored: VerifiedRequest[] = [];
  const refused: IncomingHttpHeaders[] = [];
  const server: Server = createServer((request, response) => {
    void (async () => {
      let body: Buffer;
      try {
        body = await readBody(request);
      } catch {
        return;
      }
      if (body.length > maxBodyBytes) {
        response.writeHead(413).end();
        return;
      }
      const failed = [] as string[];
      const verified = [] as string[];
      for (const field of [CONTENT_DIGEST, REPR_DIGEST]) {
        for (const [where, section] of [
          ['header', request.headers],
          ['trailer', request.trailers],
        ] as const) {
          const value = section[field];
          if (typeof value !== 'string') continue;
          for (const [algorithm, expected] of parseDigestField(value)) {
            if (!isDigestAlgorithm(algorithm)) continue;
            (digestOf(algorithm, body).equals(expected) ? verified : failed).push(`${field} (${where})`);
          }
        }
      }
      if (failed.length > 0) {
        refused.push(request.headers);
        const problem = { type: 'about:blank', title: 'Digest mismatch', status: 400, detail: `${failed.join(', ')} does not match the content received` };
        response.writeHead(400, { 'content-type': 'application/problem+json' });
        response.end(JSON.stringify(problem));
        return;
      }
      stored.push({ headers: request.headers, trailers: request.trailers, body, sha256: sha256(body), verified });
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ bytes: body.length, verified }));
    })();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stored,
    refused,
    get mismatches() {
      return refused.length;
    },
    bytes: () => Buffer.concat(stored.map((request) => request.body)),
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
