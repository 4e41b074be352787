import { BODY_SNIPPET_LIMIT, capBody } from './http/body-cap.js';
import type { ErrorPosition, FileChangeField, ProgressSnapshot, ResponseSummary, SpoolState } from './types.js';

/**
 * Stable error codes. A code never changes meaning once released; match on
 * `error.code`, not on the message.
 */
export const ErrorCodes = {
  /** The server answered with a status that is not 2xx. */
  HTTP_STATUS: 'ERR_BHW_HTTP_STATUS',
  /** The server answered 3xx; a body already streamed cannot be replayed elsewhere. */
  REDIRECT: 'ERR_BHW_REDIRECT',
  /** The connection failed: refused, reset, cut, timed out, TLS refused. */
  NETWORK: 'ERR_BHW_NETWORK',
  /** The server answered 2xx before it could have received the whole body. */
  EARLY_RESPONSE: 'ERR_BHW_EARLY_RESPONSE',
  /** The bytes written do not match the declared `contentLength`. */
  CONTENT_LENGTH: 'ERR_BHW_CONTENT_LENGTH',
  /** The server asked to retry later than the `retry.maxRetryAfter` cap allows. */
  RETRY_AFTER: 'ERR_BHW_RETRY_AFTER',
  /** tus: the server's offset lies outside the bytes still held, so resuming would guess. */
  RESUME_GAP: 'ERR_BHW_RESUME_GAP',
  /** The server broke the protocol of the mode (a missing tus `Location`, say). */
  PROTOCOL: 'ERR_BHW_PROTOCOL',
  /** `uploadFile`: the file changed (size, timestamps or identity) while it was being uploaded. */
  FILE_CHANGED: 'ERR_BHW_FILE_CHANGED',
  /** The spool directory holds damaged data outside a torn tail; nothing from it is sent. */
  SPOOL_CORRUPT: 'ERR_BHW_SPOOL_CORRUPT',
  /** Another live process, or another spool in this process, holds the spool directory. */
  SPOOL_LOCKED: 'ERR_BHW_SPOOL_LOCKED',
  /** A record larger than the spool's `maxBytes`: it could never be stored. */
  SPOOL_RECORD_TOO_LARGE: 'ERR_BHW_SPOOL_RECORD_TOO_LARGE',
  /** The server handed over a plain-http URL for an upload begun over https; nothing was sent to it. */
  INSECURE_LOCATION: 'ERR_BHW_INSECURE_LOCATION',
  /** A file system operation of the spool failed (disk full, read-only, not a directory, no permission…). */
  SPOOL_IO: 'ERR_BHW_SPOOL_IO',
  /** The spool directory or a file in it could be read or redirected by someone else: a foreign owner, group/other write, a symlink. */
  SPOOL_UNSAFE: 'ERR_BHW_SPOOL_UNSAFE',
  /** The spool still holds records of another input (`spool.input`): send them first, or use another directory. */
  SPOOL_INPUT: 'ERR_BHW_SPOOL_INPUT',
  /** `uploadFile`: reading the file or descriptor failed (an I/O error, a descriptor closed or unreadable). */
  SOURCE_READ: 'ERR_BHW_SOURCE_READ',
  /** The proxy refused the request (a CONNECT answered 403, a 407 for proxy credentials, …); it never reached the server. */
  PROXY: 'ERR_BHW_PROXY',
  /** s3 and azure-blob: the upload needs more parts than the protocol allows; a larger `highWaterMark` makes fewer. */
  TOO_MANY_PARTS: 'ERR_BHW_TOO_MANY_PARTS',
  /** s3 and azure-blob: the state file of a resumed upload cannot be read or names another upload. */
  PARTS_STATE: 'ERR_BHW_PARTS_STATE',
  /** The server saw corrupted bytes: the digest the request carried (RFC 9530, tus checksum) did not match what arrived. */
  DIGEST_MISMATCH: 'ERR_BHW_DIGEST_MISMATCH',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/**
 * Marks the library's errors. `Symbol.for` gives the same symbol in every copy
 * of the package, so an error from one installed copy is recognised by
 * another (undici's `kUndiciError` pattern), where `instanceof` would fail.
 */
const kBufferedHttpWritableError = Symbol.for('buffered-http-writable.error');

/** True for every error this library raises, from any installed copy of it. */
export function isBufferedHttpWritableError(value: unknown): value is BufferedHttpWritableError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kBufferedHttpWritableError] === true;
}

/**
 * Base class of every error this library raises. Besides `code` it says how
 * far the upload got, so a caller can tell "nothing arrived" from "all but the
 * last second arrived" and resume where the mode allows. The message is short
 * and stable; the figures are in fields, never to be parsed out of the text.
 */
export class BufferedHttpWritableError extends Error {
  /** `instanceof BufferedHttpWritableError` holds across installed copies; subclasses keep the ordinary check. */
  static override [Symbol.hasInstance](instance: unknown): boolean {
    if (this === BufferedHttpWritableError) return isBufferedHttpWritableError(instance);
    return Function.prototype[Symbol.hasInstance].call(this, instance);
  }

  get [kBufferedHttpWritableError](): true {
    return true;
  }

  readonly code: ErrorCode;
  /**
   * batch with a spool: what the spool still holds once the stream ended with
   * this error. Set on whatever error the stream ends with: an `AbortError` or
   * the error given to `destroy()` carries it too (`Error & { spool?: SpoolState }`).
   */
  declare spool?: SpoolState;
  /**
   * batch and tus: set when the retry engine gave up on a failure it retries
   * (its `retry.limit` or `retry.maxRetryTime` ran out): the attempts that
   * failed in a row, and the ms from the first of them failing to the last.
   */
  declare retries?: { attempts: number; elapsedMs: number };
  /** Bytes accepted by `write()`. */
  readonly bytesWritten: number;
  /** Bytes handed to the socket: an upper bound on what the server got. */
  readonly bytesSent: number;
  /** Bytes the server confirmed with a 2xx. */
  readonly bytesAcknowledged: number;
  readonly sequence?: number;
  readonly offset?: number;
  readonly uploadUrl?: string;
  /** s3 and azure-blob: the multipart upload (S3's UploadId; Azure's block id nonce). */
  readonly uploadId?: string;
  /** s3 and azure-blob: the numbers of the parts the server holds, ascending (a resumed upload keeps them). */
  readonly partsStored?: number[];

  constructor(code: ErrorCode, message: string, progress: ProgressSnapshot, position: ErrorPosition = {}, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.bytesWritten = progress.bytesWritten;
    this.bytesSent = progress.bytesSent;
    this.bytesAcknowledged = progress.bytesAcknowledged;
    if (position.sequence !== undefined) this.sequence = position.sequence;
    if (position.offset !== undefined) this.offset = position.offset;
    if (position.uploadUrl !== undefined) this.uploadUrl = position.uploadUrl;
    if (position.uploadId !== undefined) this.uploadId = position.uploadId;
    if (position.partsStored !== undefined) this.partsStored = position.partsStored;
  }
}

/** The server answered with a status that is not 2xx. */
export class HttpStatusError extends BufferedHttpWritableError {
  readonly statusCode: number;
  readonly statusMessage?: string;
  /** The start of the response body (capped at `BODY_SNIPPET_LIMIT` bytes). */
  readonly body: string;

  constructor(response: ResponseSummary, progress: ProgressSnapshot, position: ErrorPosition = {}, code: ErrorCode = ErrorCodes.HTTP_STATUS, detail = '') {
    const where = position.sequence === undefined ? '' : ` for batch ${position.sequence}`;
    const snippet = response.body ? `: ${oneLine(response.body, 200)}` : '';
    super(
      code,
      `Server answered ${response.statusCode}${response.statusMessage ? ` ${response.statusMessage}` : ''}${where}${detail}${snippet}`,
      progress,
      position,
    );
    this.statusCode = response.statusCode;
    if (response.statusMessage) this.statusMessage = response.statusMessage;
    this.body = capBody(response.body, BODY_SNIPPET_LIMIT);
  }
}

/**
 * The server answered that the bytes it received do not match the digest
 * sent with them (a 400 naming the digest, a tus 460): they were corrupted
 * on the way. Batch and tus resend within the retry budget, so this is the
 * last such answer; a streamed body cannot be resent.
 */
export class DigestMismatchError extends HttpStatusError {
  constructor(response: ResponseSummary, progress: ProgressSnapshot, position: ErrorPosition = {}) {
    super(response, progress, position, ErrorCodes.DIGEST_MISMATCH, ' (the server saw corrupted bytes: their digest did not match the one sent)');
  }
}

/** A 3xx answer. A body already streamed cannot follow it; the caller must upload to `location` again. */
export class RedirectError extends HttpStatusError {
  /** The `Location` the server pointed to, without any user:password. */
  readonly location?: string;

  constructor(response: ResponseSummary, location: string | undefined, progress: ProgressSnapshot, position: ErrorPosition = {}) {
    const target = location ? ` to ${location}` : ' without a Location';
    super(response, progress, position, ErrorCodes.REDIRECT, ` (redirect${target} not followed: the request body cannot be replayed)`);
    if (location) this.location = location;
  }
}

/**
 * Sets the fields of `position` that `error` does not have yet, so an error
 * raised outside the transport (an abort) says where the upload stands as
 * the library's own errors do (tus: uploadUrl, offset; s3, azure-blob:
 * uploadId, partsStored); a library error already says where it happened.
 */
export function addPosition(error: Error, position: ErrorPosition): void {
  for (const [field, value] of Object.entries(position)) {
    if (!(field in error)) Object.assign(error, { [field]: value });
  }
}

/**
 * `value` as an Error, the same object when it is one. Not `instanceof
 * Error`: that fails for an error made in another realm (Node's socket errors
 * seen from a vm context, as Jest runs tests), and rebuilding such an error
 * from `String(value)` lost its `code`, which `causeCode` and retry decisions
 * read. Anything with a string `message` is taken as it is.
 */
export function asError(value: unknown): Error & { code?: string } {
  if (typeof value === 'object' && value !== null && typeof (value as { message?: unknown }).message === 'string') return value as Error;
  return new Error(String(value));
}

/** The connection failed: refused, reset, cut (before the answer or in the middle of it), timed out. */
export class NetworkError extends BufferedHttpWritableError {
  /** The system or got error code (`ECONNRESET`, `ETIMEDOUT`, `EPIPE`, …). */
  readonly causeCode?: string;

  /** `problem`: what failed, when more is known than "Connection failed" (an answer cut short, say). */
  constructor(cause: Error & { code?: string }, progress: ProgressSnapshot, position: ErrorPosition = {}, problem = 'Connection failed') {
    // Keep only the message and code of the cause: got's errors carry the
    // request options, and with them Authorization and cookie headers.
    const safeCause = Object.assign(new Error(cause.message), cause.code ? { code: cause.code } : {});
    super(ErrorCodes.NETWORK, `${problem}${cause.code ? ` (${cause.code})` : ''}: ${cause.message}`, progress, position, { cause: safeCause });
    if (cause.code) this.causeCode = cause.code;
  }
}

/** The server answered 2xx while the body was still being sent: later bytes were not acknowledged. */
export class EarlyResponseError extends HttpStatusError {
  constructor(response: ResponseSummary, progress: ProgressSnapshot) {
    super(response, progress, {}, ErrorCodes.EARLY_RESPONSE, ' before the request body was complete');
  }
}

/** The bytes written do not match the declared `contentLength`. */
export class ContentLengthError extends BufferedHttpWritableError {
  readonly expected: number;
  readonly actual: number;

  constructor(expected: number, actual: number, progress: ProgressSnapshot) {
    const problem =
      actual > expected
        ? `write would bring the body to ${actual} bytes, past contentLength ${expected}`
        : `stream ended after ${actual} bytes, short of contentLength ${expected}`;
    super(ErrorCodes.CONTENT_LENGTH, `Content length mismatch: ${problem}`, progress);
    this.expected = expected;
    this.actual = actual;
  }
}

/** The server asked for a pause longer than the configured cap. */
export class RetryAfterError extends HttpStatusError {
  /** Seconds the server asked to wait. */
  readonly retryAfter: number;

  constructor(response: ResponseSummary, retryAfterSeconds: number, capMs: number, progress: ProgressSnapshot, position: ErrorPosition = {}) {
    super(
      response,
      progress,
      position,
      ErrorCodes.RETRY_AFTER,
      ` with Retry-After ${retryAfterSeconds}s, beyond the ${capMs / 1000}s cap (retry.maxRetryAfter)`,
    );
    this.retryAfter = retryAfterSeconds;
  }
}

/** tus: the server's offset is outside the window of bytes still held, so no exact resend is possible. */
export class ResumeGapError extends BufferedHttpWritableError {
  readonly serverOffset: number;
  /** First byte offset still held in memory. */
  readonly heldFrom: number;
  /** One past the last byte offset sent so far. */
  readonly heldTo: number;

  constructor(serverOffset: number, heldFrom: number, heldTo: number, progress: ProgressSnapshot, position: ErrorPosition = {}) {
    const side = serverOffset < heldFrom ? 'behind the bytes still held' : 'ahead of the bytes sent';
    super(ErrorCodes.RESUME_GAP, `Server offset ${serverOffset} is ${side} [${heldFrom}, ${heldTo}): refusing to guess`, progress, {
      offset: serverOffset,
      ...position,
    });
    this.serverOffset = serverOffset;
    this.heldFrom = heldFrom;
    this.heldTo = heldTo;
  }
}

/**
 * `uploadFile`: the file changed during the upload (it grew, shrank, or was
 * written to), so what was read is not one version of it.
 */
export class FileChangedError extends BufferedHttpWritableError {
  readonly path: string;
  /** The size when the upload started. */
  readonly expected: number;
  /** The size found: at least one byte past `expected`, where the file ended early, or its size at the final check. */
  readonly actual: number;
  /** What differs from the file as it was when the upload started: `'size'` alone when the reads found it. */
  readonly changed: readonly FileChangeField[];

  constructor(path: string, expected: number, actual: number, progress: ProgressSnapshot, changed: readonly FileChangeField[] = ['size']) {
    super(ErrorCodes.FILE_CHANGED, `File changed during the upload: ${path} ${describeChange(expected, actual, changed)}`, progress);
    this.path = path;
    this.expected = expected;
    this.actual = actual;
    this.changed = changed;
  }
}

function describeChange(expected: number, actual: number, changed: readonly FileChangeField[]): string {
  if (changed.length > 1 || changed[0] !== 'size') return `(${changed.join(', ')} differ from when the upload started)`;
  return actual > expected ? `grew past its ${expected} bytes` : `ended at byte ${actual}, short of its ${expected} bytes`;
}

/** The server broke the rules of the protocol in use. */
export class ProtocolError extends BufferedHttpWritableError {
  constructor(message: string, progress: ProgressSnapshot, position: ErrorPosition = {}) {
    super(ErrorCodes.PROTOCOL, message, progress, position);
  }
}

/**
 * The server handed over a URL (a tus `Location`) that turns the https
 * endpoint into plain http: following it would send the data, and any
 * credential still valid there, in cleartext. Not followed unless the caller
 * opts in (`allowInsecureLocation`); a TLS-terminating proxy in front of a
 * server that builds its URLs from the plain request is the usual cause.
 */
export class InsecureLocationError extends BufferedHttpWritableError {
  /** The URL the server gave, without any user:password. */
  readonly location: string;

  constructor(location: string, progress: ProgressSnapshot, position: ErrorPosition = {}) {
    super(
      ErrorCodes.INSECURE_LOCATION,
      `Refusing the upload URL ${location}: it downgrades https to http (set allowInsecureLocation to follow it)`,
      progress,
      position,
    );
    this.location = location;
  }
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max)}…`;
}

/** Counters of a spool error raised before any byte was written (opening a spool). */
export const NO_PROGRESS: ProgressSnapshot = { bytesWritten: 0, bytesSent: 0, bytesAcknowledged: 0 };

/** `uploadFile`: reading its source failed; what was read before went to the server as usual. */
export class SourceReadError extends BufferedHttpWritableError {
  /** The path, or `file descriptor N`. */
  readonly source: string;
  /** The system error code (`EIO`, `EBADF`, `EISDIR`, …), when there is one. */
  readonly systemCode?: string;

  constructor(source: string, cause: Error & { code?: string }, progress: ProgressSnapshot) {
    super(ErrorCodes.SOURCE_READ, `Reading ${source} failed${cause.code ? ` (${cause.code})` : ''}: ${cause.message}`, progress, {}, { cause });
    this.source = source;
    if (cause.code) this.systemCode = cause.code;
  }
}

/** The proxy answered instead of the server: a CONNECT tunnel refused (403, 407, 502, …) or a 407 to a forwarded request. Not retried. */
export class ProxyError extends BufferedHttpWritableError {
  /** The proxy's status. */
  readonly statusCode: number;
  /** The proxy's URL, without user:password. */
  readonly proxy: string;

  constructor(refusal: { statusCode: number; proxy: string }, progress: ProgressSnapshot, position: ErrorPosition = {}) {
    super(ErrorCodes.PROXY, `Proxy ${refusal.proxy} refused the request with ${refusal.statusCode}`, progress, position);
    this.statusCode = refusal.statusCode;
    this.proxy = refusal.proxy;
  }
}

/** s3 and azure-blob: part `partNumber` would pass the protocol's `maxParts`. Nothing past the last stored part was sent. */
export class TooManyPartsError extends BufferedHttpWritableError {
  readonly maxParts: number;
  readonly partSize: number;

  constructor(protocol: string, maxParts: number, partSize: number, progress: ProgressSnapshot, position: ErrorPosition = {}) {
    super(
      ErrorCodes.TOO_MANY_PARTS,
      `${protocol} allows at most ${maxParts} parts; with parts of ${partSize} bytes (highWaterMark) the upload needs more: raise highWaterMark`,
      progress,
      position,
    );
    this.maxParts = maxParts;
    this.partSize = partSize;
  }
}

/** s3 and azure-blob: a state file that cannot be read, or that records an upload of another target. */
export class PartsStateError extends BufferedHttpWritableError {
  readonly path: string;

  constructor(path: string, problem: string, progress: ProgressSnapshot = { bytesWritten: 0, bytesSent: 0, bytesAcknowledged: 0 }, options?: ErrorOptions) {
    super(ErrorCodes.PARTS_STATE, `Upload state file ${path}: ${problem}`, progress, {}, options);
    this.path = path;
  }
}
