import type { IncomingHttpHeaders } from 'node:http';
import type { Response as GotResponse } from 'got';
import {
  asError,
  DigestMismatchError,
  HttpStatusError,
  isBufferedHttpWritableError,
  NetworkError,
  ProxyError,
  RedirectError,
  type BufferedHttpWritableError,
} from '../errors.js';
import { proxyRefusalOf } from './proxy.js';
import type { ErrorPosition, ProgressSnapshot, ResponseSummary, UploadResponse } from '../types.js';
import { BODY_SNIPPET_LIMIT, RESPONSE_BODY_LIMIT, capBody } from './body-cap.js';
import { redactSecrets, redactUrl } from './redact.js';
import { isRedirect, saysDigestMismatch } from './status.js';

/** A 2xx response as `upload.response` and the `'response'` event show it. */
export function toUploadResponse(response: GotResponse<Buffer>): UploadResponse {
  return { statusCode: response.statusCode, headers: response.headers, body: capBody(response.rawBody, RESPONSE_BODY_LIMIT) };
}

/**
 * What an error keeps of a non-2xx response: status, message and the start of
 * the body, with any credential the caller gave replaced (a debugging server
 * may echo the Authorization header back in its error body). Redacted before
 * the cut, so no credential is left half-shown at the end of the snippet.
 */
export function summarizeResponse(
  response: { statusCode: number; statusMessage?: string | undefined; body: string | Buffer },
  options: { readonly credentials: readonly string[] },
): ResponseSummary {
  const text = typeof response.body === 'string' ? response.body : response.body.toString('utf8');
  const body = capBody(redactSecrets(text, options.credentials), BODY_SNIPPET_LIMIT);
  return { statusCode: response.statusCode, body, ...(response.statusMessage ? { statusMessage: response.statusMessage } : {}) };
}

/** The typed error for a non-2xx response: a redirect names its (redacted) `Location`, a digest mismatch says the bytes were corrupted. */
export function errorForResponse(
  summary: ResponseSummary,
  headers: IncomingHttpHeaders,
  requestUrl: URL,
  progress: ProgressSnapshot,
  position: ErrorPosition = {},
): HttpStatusError {
  if (isRedirect(summary.statusCode)) {
    return new RedirectError(summary, redirectTarget(headers.location, requestUrl), progress, position);
  }
  if (saysDigestMismatch(summary.statusCode, summary.body)) return new DigestMismatchError(summary, progress, position);
  return new HttpStatusError(summary, progress, position);
}

/** What a `NetworkError` says of a response cut short, in every mode. */
const RESPONSE_CUT_SHORT = 'The connection closed while the answer was being read, after the whole request body was sent';

/**
 * Wraps a socket/got error as a `NetworkError` (a proxy's refusal as a
 * `ProxyError`); any error of the library's own passes through as it is.
 *
 * A response cut short is told apart: the server had the whole request body
 * (`respondedAfterBody`) and began its response, then the connection closed
 * before the response's body was whole. That is no early response (the
 * server did read everything) and no plain reset before any response: whether
 * the request was processed is unknown, so it is a network failure, retried
 * where the mode retries. `respondedAfterBody` comes from got's timings unless
 * the transport knows better (stream mode counts what it handed over).
 */
export function errorForNetwork(
  error: unknown,
  progress: ProgressSnapshot,
  position: ErrorPosition = {},
  respondedAfterBody = bodySentBeforeResponse(error),
): BufferedHttpWritableError {
  if (isBufferedHttpWritableError(error)) return error;
  const refusal = proxyRefusalOf(error);
  if (refusal) return new ProxyError(refusal, progress, position);
  return new NetworkError(asError(error), progress, position, respondedAfterBody && isResponseCutShort(error) ? RESPONSE_CUT_SHORT : undefined);
}

/**
 * got's ReadError on a response whose body did not arrive whole (the
 * connection closed or was reset mid-response). A body that came whole but
 * could not be decoded (a broken gzip) is not a cut.
 */
function isResponseCutShort(error: unknown): boolean {
  const { name, response } = (error ?? {}) as { name?: unknown; response?: { complete?: unknown } };
  return name === 'ReadError' && response?.complete === false;
}

/** got's timings: the request body had gone out whole (`upload`) by the time the response began (`response`). */
function bodySentBeforeResponse(error: unknown): boolean {
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
