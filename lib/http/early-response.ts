import { ClientRequest } from 'node:http';
import type { Socket } from 'node:net';

/**
 * How long a failed write waits for the connection's read side to end before
 * its error is passed on. After a peer's reset the kernel hands over what it
 * had queued, then end-of-file, on the next poll: the wait normally lasts one
 * turn of the event loop. The bound only matters if the read side never ends
 * (a paused socket, say); then the write error is reported as it is, late by
 * at most this much.
 */
export const RESPONSE_GRACE_MS = 500;

/** The write errors of a connection the peer closed or reset: a response may be queued before them. */
const PEER_CLOSED = new Set(['EPIPE', 'ECONNRESET']);

const kHeld = Symbol('buffered-http-writable.response-before-write-error');

/** What a got request (stream or promise) offers: its `'request'` event gives the ClientRequest. */
interface EmitsClientRequest {
  on(event: 'request', listener: (request: unknown) => void): unknown;
}

/**
 * Lets a response that arrived while the body was still going out be read
 * before the write error that follows it ends the request (invariant 6),
 * which is what curl does by reading while it sends.
 *
 * Why it is needed: a server or proxy that responds at header time (HAProxy's
 * `http-request return`/`deny`, a 413 from a body-size check) closes at once,
 * and its kernel resets the connection when more body arrives. The response is
 * then in our socket's receive queue, and stays readable there after the reset
 * (Linux discards the send queue on RST, not the receive queue). But the next
 * write fails with EPIPE/ECONNRESET, and Node's socket destroys itself on a
 * write error, closing the file descriptor before anything reads the queue:
 * the response is lost unless a poll for reading happened to come first. A
 * write that fails synchronously reports its error before the next poll, so
 * with a producer that writes as fast as the socket takes it the response was
 * lost in most runs (docs/interop-notes.md).
 *
 * So for HTTP/1 requests, a write error that says the peer closed is held back
 * until the socket's read side has ended (the queued response read and parsed,
 * got's `'response'` emitted) or the socket closed, bounded by
 * `RESPONSE_GRACE_MS`; then it goes on as before. Nothing changes for a write
 * that succeeds. HTTP/2 streams (http2-wrapper) have no socket of their own
 * and are left alone.
 */
export function readResponseBeforeWriteError(request: EmitsClientRequest): void {
  request.on('request', (clientRequest) => {
    // A plain ClientRequest is HTTP/1 (also https, and got's http2 option
    // when the server chose HTTP/1.1); it emits 'socket' before it writes.
    if (clientRequest instanceof ClientRequest) clientRequest.once('socket', holdWriteErrors);
  });
}

/**
 * Wraps the socket's `_write`/`_writev` (the Writable hooks every write goes
 * through, TLS included) once per socket: keep-alive sockets are reused, and
 * the rule is right for every request they carry.
 */
function holdWriteErrors(socket: Socket): void {
  const held = socket as Socket & { [kHeld]?: true };
  if (held[kHeld]) return;
  held[kHeld] = true;
  const write = socket._write.bind(socket);
  const writev = socket._writev?.bind(socket);
  socket._write = (chunk, encoding, callback) => write(chunk, encoding, afterReading(socket, callback));
  if (writev) socket._writev = (chunks, callback) => writev(chunks, afterReading(socket, callback));
}

/** The write's callback, called at once unless the error says the peer closed and the read side is still open. */
function afterReading(socket: Socket, callback: (error?: Error | null) => void): (error?: Error | null) => void {
  return (error) => {
    const code = (error as { code?: string } | null | undefined)?.code;
    if (!error || code === undefined || !PEER_CLOSED.has(code) || socket.readableEnded || socket.destroyed) {
      callback(error);
      return;
    }
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      clearTimeout(timer);
      socket.off('end', release);
      socket.off('close', release);
      callback(error);
    };
    const timer = setTimeout(release, RESPONSE_GRACE_MS);
    socket.once('end', release);
    socket.once('close', release);
  };
}
