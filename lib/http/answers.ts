import type { IncomingHttpHeaders } from 'node:http';
import { asError, HttpStatusError, isBufferedHttpWritableError, NetworkError, RedirectError, type BufferedHttpWritableError } from '../errors.js';
import { redactSecrets, redactUrl } from './redact.js';
import type { ErrorPosition, ProgressSnapshot, ResponseSummary } from '../types.js';

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
  options: { readonly credentials: readonly string[] },
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

/** What a `NetworkError` says of an answer cut short, in every mode. */
const ANSWER_CUT_SHORT = 'The connection closed while the answer was being read, after the whole request body was sent';

/**
 * Wraps a socket/got error as a `NetworkError`; any error of the library's own passes through as it is.
 *
 * An answer cut short is told apart: the server had the whole request body
 * (`answeredAfterBody`) and began its answer, then the connection closed
 * before the answer's body was whole. That is no early answer (the server
 * did read everything) and no plain reset before any answer: whether the
 * request was processed is unknown, so it is a network failure, retried
 * where the mode retries. `answeredAfterBody` comes from got's timings unless
 * the transport knows better (stream mode counts what it handed over).
 */
export function errorForNetwork(
  error: unknown,
  progress: ProgressSnapshot,
  position: ErrorPosition = {},
  answeredAfterBody = bodySentBeforeAnswer(error),
): BufferedHttpWritableError {
  if (isBufferedHttpWritableError(error)) return error;
  return new NetworkError(asError(error), progress, position, answeredAfterBody && isAnswerCutShort(error) ? ANSWER_CUT_SHORT : undefined);
}

/**
 * got's ReadError on an answer whose body did not arrive whole (the
 * connection closed or was reset mid-answer). A body that came whole but
 * could not be decoded (a broken gzip) is not a cut.
 */
function isAnswerCutShort(error: unknown): boolean {
  const { name, response } = (error ?? {}) as { name?: unknown; response?: { complete?: unknown } };
  return name === 'ReadError' && response?.complete === false;
}

/** got's timings: the request body had gone out whole (`upload`) by the time the answer began (`response`). */
function bodySentBeforeAnswer(error: unknown): boolean {
  const timings = (error as { timings?: { upload?: number; response?: number } } | null)?.timings;
  return timings?.upload !== undefined && timings.response !== undefined && timings.upload <= timings.response;
}

function redirectTarget(location: string | undefined, base: URL): string | undefined {
  if (!location) return undefined;
  try {
    return redactUrl(new URL(location, base));
  } catch {
    return undefined;
  }
}
