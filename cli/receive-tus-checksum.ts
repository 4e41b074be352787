import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server as TusServer } from '@tus/server';

/** The algorithms `bhw receive` verifies, by their tus names (`Tus-Checksum-Algorithm`). */
export const TUS_CHECKSUM_ALGORITHMS = ['sha256', 'sha512'] as const;

/**
 * A request checked against its `Upload-Checksum` is held in memory until
 * it is verified: at most this many bytes (a PATCH is one client buffer,
 * 64 KiB to a few MiB; larger ones are answered 413).
 */
export const MAX_CHECKSUM_BODY_BYTES = 64 * 1024 ** 2;

type Handler = (request: IncomingMessage, response: ServerResponse) => Promise<void>;

/**
 * The tus checksum extension in front of @tus/server, which has none. A
 * PATCH (or creation-with-upload POST) carrying `Upload-Checksum` is read
 * whole into memory and hashed; a body that does not match is answered
 * `460 Checksum Mismatch` before @tus/server sees a byte of it, so the store
 * keeps none of it and the upload's offset does not move. A body that
 * matches is handed to @tus/server as a fetch `Request` holding exactly
 * those bytes (`handleWeb`), so what the store writes is what was verified.
 * Requests without the header go straight to `handle`: the checksum is
 * optional per request (tus 1.0 §checksum). Every answer lists the
 * algorithms; the store lists `checksum` in `Tus-Extension`.
 */
export function verifyingChecksums(server: TusServer): Handler {
  return async (request, response) => {
    response.setHeader('tus-checksum-algorithm', TUS_CHECKSUM_ALGORITHMS.join(','));
    const checksum = request.headers['upload-checksum'];
    if (typeof checksum !== 'string' || (request.method !== 'PATCH' && request.method !== 'POST')) return server.handle(request, response);
    const [algorithm, expected, extra] = checksum.trim().split(/\s+/);
    if (!isSupported(algorithm) || !expected || extra !== undefined) {
      request.resume();
      // Not the word the client's retry rule reads as corruption: sending it again would not help.
      return answer(response, 400, 'Bad Request', `checksum algorithm and digest expected, one of ${TUS_CHECKSUM_ALGORITHMS.join(', ')}\n`);
    }
    const body = await readBody(request);
    if (body === undefined) return answer(response, 413, 'Content Too Large', `a checksummed request takes at most ${MAX_CHECKSUM_BODY_BYTES} bytes\n`, true);
    if (createHash(algorithm).update(body).digest('base64') !== expected) {
      return answer(response, 460, 'Checksum Mismatch', `Upload-Checksum ${algorithm} does not match the ${body.length} bytes received; none was stored\n`);
    }
    const verified = await server.handleWeb(asFetchRequest(request, body));
    response.writeHead(verified.status, verified.statusText, Object.fromEntries(verified.headers));
    const text = Buffer.from(await verified.arrayBuffer());
    return new Promise((resolve) => response.end(text, resolve));
  };
}

function isSupported(algorithm: string | undefined): algorithm is (typeof TUS_CHECKSUM_ALGORITHMS)[number] {
  return (TUS_CHECKSUM_ALGORITHMS as readonly string[]).includes(algorithm ?? '');
}

/** The whole body, or undefined once it passes the cap (the rest is not read: the answer closes the connection). */
async function readBody(request: IncomingMessage): Promise<Buffer | undefined> {
  if (Number(request.headers['content-length'] ?? 0) > MAX_CHECKSUM_BODY_BYTES) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_CHECKSUM_BODY_BYTES) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/** Hop-by-hop fields describe the connection the body came on, not the buffered body now handed over. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade']);

function asFetchRequest(request: IncomingMessage, body: Buffer): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  headers.set('content-length', String(body.length));
  const url = new URL(request.url ?? '/', `http://${request.headers.host ?? 'localhost'}`);
  return new Request(url, { method: request.method!, headers, body });
}

function answer(response: ServerResponse, status: number, message: string, text: string, close = false): Promise<void> {
  response.writeHead(status, message, {
    'tus-resumable': '1.0.0',
    'content-type': 'text/plain; charset=utf-8',
    ...(close ? { connection: 'close' } : {}),
  });
  return new Promise((resolve) => response.end(text, resolve));
}
