import type { IncomingHttpHeaders } from 'node:http';
import {
  asError,
  HttpStatusError,
  isBufferedHttpWritableError,
  NetworkError,
  RedirectError,
  type BufferedHttpWritableError,
  type ErrorPosition,
  type ResponseSummary,
} from '../errors.js';
import type { ResolvedOptions } from '../options.js';
import { redactSecrets, redactUrl } from '../redact.js';
import type { ProgressSnapshot } from '../progress.js';

/** At most this much of a response body is kept on `upload.response.body`. */
export const RESPONSE_BODY_LIMIT = 1024 * 1024;

/** Collects a response body as text, keeping at most `limit` bytes so a huge answer cannot break the memory bound. */
export class BodyCollector {
  readonly #chunks: Buffer[] = [];
  #kept = 0;
  readonly #limit: number;

  constructor(limit = RESPONSE_BODY_LIMIT) {
    this.#limit = limit;
  }

  add(chunk: Buffer): void {
    if (this.#kept >= this.#limit) return;
    const part = chunk.length > this.#limit - this.#kept ? chunk.subarray(0, this.#limit - this.#kept) : chunk;
    this.#chunks.push(part);
    this.#kept += part.length;
  }

  text(): string {
    return Buffer.concat(this.#chunks).toString('utf8');
  }
}

/**
 * What an error keeps of a non-2xx answer: status, message and the start of
 * the body, with any credential the caller gave replaced (a debugging server
 * may echo the Authorization header back in its error body).
 */
export function summarizeAnswer(
  answer: { statusCode: number; statusMessage?: string | undefined; body: string },
  options: Pick<ResolvedOptions, 'credentials'>,
): ResponseSummary {
  const body = redactSecrets(answer.body, options.credentials);
  return { statusCode: answer.statusCode, body, ...(answer.statusMessage ? { statusMessage: answer.statusMessage } : {}) };
}

export function isSuccess(statusCode: number): boolean {
  return statusCode >= 200 && statusCode < 300;
}

/** The typed error for a non-2xx answer: a redirect names its (redacted) `Location`. */
export function errorForAnswer(
  summary: ResponseSummary,
  headers: IncomingHttpHeaders,
  requestUrl: URL,
  progress: ProgressSnapshot,
  position: ErrorPosition = {},
): HttpStatusError {
  if (summary.statusCode >= 300 && summary.statusCode < 400) {
    return new RedirectError(summary, redirectTarget(headers.location, requestUrl), progress, position);
  }
  return new HttpStatusError(summary, progress, position);
}

/** Wraps a socket/got error as a `NetworkError`; any error of the library's own passes through as it is. */
export function errorForNetwork(error: unknown, progress: ProgressSnapshot, position: ErrorPosition = {}): BufferedHttpWritableError {
  if (isBufferedHttpWritableError(error)) return error;
  return new NetworkError(asError(error), progress, position);
}

function redirectTarget(location: string | undefined, base: URL): string | undefined {
  if (!location) return undefined;
  try {
    return redactUrl(new URL(location, base));
  } catch {
    return undefined;
  }
}
