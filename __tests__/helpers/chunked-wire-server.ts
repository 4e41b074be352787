import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { sha256 } from './sink-server.js';

/** One request as framed on the wire. */
export interface WireRequest {
  head: string;
  /** Sizes of the HTTP chunks in the order they arrived (the 0 terminator not included). */
  chunkSizes: number[];
  body: Buffer;
  sha256: string;
  /** The trailer section as it came after the last chunk (`name: value\r\n` lines), '' when none. */
  trailers: string;
}

export interface WireServer {
  readonly url: string;
  readonly requests: WireRequest[];
  close(): Promise<void>;
}

/**
 * A raw TCP server that parses HTTP/1.1 requests itself, so a test can see
 * the chunk framing a real HTTP server would hide. Understands chunked and
 * Content-Length bodies and answers each request 200.
 */
export async function startWireServer(): Promise<WireServer> {
  const requests: WireRequest[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let pending: Buffer = Buffer.alloc(0);
    let parser = newRequestParser();
    socket.on('data', (data: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, data]) : data;
      for (;;) {
        const result = parser.feed(pending);
        pending = result.rest;
        if (!result.request) break;
        requests.push(result.request);
        const body = JSON.stringify({ bytes: result.request.body.length, sha256: result.request.sha256 });
        socket.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
        parser = newRequestParser();
      }
    });
    socket.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

interface FeedResult {
  request?: WireRequest;
  rest: Buffer;
}

/** An incremental parser: feed it bytes, it returns a request once one is complete. */
function newRequestParser(): { feed(data: Buffer): FeedResult } {
  let head: string | undefined;
  let chunked = false;
  let remaining = 0; // bytes left in the current chunk or sized body
  let inChunk = false;
  const chunkSizes: number[] = [];
  const parts: Buffer[] = [];

  const done = (rest: Buffer, trailers = ''): FeedResult => {
    const body = Buffer.concat(parts);
    return { request: { head: head!, chunkSizes, body, sha256: sha256(body), trailers }, rest };
  };

  return {
    feed(data: Buffer): FeedResult {
      let buffer = data;
      if (head === undefined) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) return { rest: buffer };
        head = buffer.subarray(0, end).toString('latin1');
        buffer = buffer.subarray(end + 4);
        chunked = /^transfer-encoding:\s*chunked/im.test(head);
        const length = /^content-length:\s*(\d+)/im.exec(head);
        remaining = length ? Number(length[1]) : 0;
        if (!chunked && remaining === 0) return done(buffer);
      }
      if (!chunked) {
        const take = Math.min(remaining, buffer.length);
        parts.push(Buffer.from(buffer.subarray(0, take)));
        remaining -= take;
        return remaining === 0 ? done(buffer.subarray(take)) : { rest: Buffer.alloc(0) };
      }
      for (;;) {
        if (inChunk) {
          const take = Math.min(remaining, buffer.length);
          parts.push(Buffer.from(buffer.subarray(0, take)));
          remaining -= take;
          buffer = buffer.subarray(take);
          if (remaining > 0) return { rest: Buffer.alloc(0) };
          if (buffer.length < 2) return { rest: buffer }; // wait for the CRLF after the data
          buffer = buffer.subarray(2);
          inChunk = false;
        }
        const lineEnd = buffer.indexOf('\r\n');
        if (lineEnd < 0) return { rest: buffer };
        const size = parseInt(buffer.subarray(0, lineEnd).toString('latin1'), 16);
        if (size === 0) {
          // The last chunk, then trailer lines, each ending in CRLF, then an empty line (RFC 9112 §7.1).
          const section = buffer.subarray(lineEnd + 2);
          const end = section.subarray(0, 2).toString('latin1') === '\r\n' ? 0 : section.indexOf('\r\n\r\n');
          if (end < 0 || section.length < 2) return { rest: buffer };
          const trailers = end === 0 ? '' : section.subarray(0, end + 2).toString('latin1');
          return done(section.subarray(end === 0 ? 2 : end + 4), trailers);
        }
        chunkSizes.push(size);
        remaining = size;
        inChunk = true;
        buffer = buffer.subarray(lineEnd + 2);
      }
    },
  };
}
