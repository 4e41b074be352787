import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server as TusServer } from '@tus/server';

/** The algorithms `bhw receive` verifies, by their tus names (`Tus-Checksum-Algorithm`). */
export const TUS_CHECKSUM_ALGORITHMS = ['sha256', 'sha512'] as const;

/**
 * A request checked against its `Upload-Checksum` is held in memory until
 * it is verified: at most this many bytes (a PATCH is one client buffer,
 * 64 KiB to a few MiB; larger ones are answered 413), and never more than
 * `--max-bytes`, which no PATCH may pass anyway.
 */
export const MAX_CHECKSUM_BODY_BYTES = 64 * 1024 ** 2;

/** `<algorithm> <base64>`, the algorithm one of ours. */
const UPLOAD_CHECKSUM = new RegExp(`^(${TUS_CHECKSUM_ALGORITHMS.join('|')}) ([A-Za-z0-9+/]+={0,2})$`);

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
export function verifyingChecksums(server: TusServer, maxBytes: number): Handler {
  const limit = Math.min(maxBytes, MAX_CHECKSUM_BODY_BYTES);
  return async (request, response) => {
    response.setHeader('tus-checksum-algorithm', TUS_CHECKSUM_ALGORITHMS.join(','));
    const checksum = request.headers['upload-checksum'];
    if (checksum === undefined || !['PATCH', 'POST'].includes(request.method!)) return server.handle(request, response);
    const [, algorithm, expected] = UPLOAD_CHECKSUM.exec(String(checksum).trim()) ?? [];
    if (!algorithm) {
      request.resume();
      // Not the words the client's retry rule reads as corruption: sending it again would not help.
      return answer(response, 400, 'Bad Request', `checksum algorithm and digest expected, one of ${TUS_CHECKSUM_ALGORITHMS.join(', ')}\n`);
    }
    const body = await readBody(request, limit);
    if (body === undefined) return answer(response, 413, 'Content Too Large', `a checksummed request takes at most ${limit} bytes\n`, true);
    if (createHash(algorithm).update(body).digest('base64') !== expected) {
      return answer(response, 460, 'Checksum Mismatch', `Upload-Checksum ${algorithm} does not match the ${body.length} bytes received; none was stored\n`);
    }
    const verified = await server.handleWeb(asFetchRequest(request, body));
    response.writeHead(verified.status, verified.statusText, Object.fromEntries(verified.headers));
    const text = Buffer.from(await verified.arrayBuffer());
    return new Promise((resolve) => response.end(text, resolve));
  };
}

/** The whole body, or undefined once it passes the cap (the rest is not read: the answer closes the connection). */
async function readBody(request: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  if (Number(request.headers['content-length']) > limit) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/** Hop-by-hop fields describe the connection the body came on, not the buffered body now handed over. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade']);

function asFetchRequest(request: IncomingMessage, body: Buffer): Request {
  const headers = new Headers();
  const raw = request.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) if (!HOP_BY_HOP.has(raw[i]!.toLowerCase())) headers.append(raw[i]!, raw[i + 1]!);
  headers.set('content-length', String(body.length));
  // @tus/server builds URLs from the Host header (or X-Forwarded-*), which is passed on: the origin here is a placeholder.
  return new Request(new URL(request.url!, 'http://localhost'), { method: request.method!, headers, body });
}

function answer(response: ServerResponse, status: number, message: string, text: string, close = false): Promise<void> {
  response.writeHead(status, message, {
    'tus-resumable': '1.0.0',
    'content-type': 'text/plain; charset=utf-8',
    ...(close ? { connection: 'close' } : {}),
  });
  return new Promise((resolve) => response.end(text, resolve));
}
