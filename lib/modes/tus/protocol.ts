import type { IncomingHttpHeaders } from 'node:http';
import defaultGot, { type Got } from 'got';
import { abortError } from '../../http/abort.js';
import { HttpStatusError, ProtocolError } from '../../errors.js';
import { resolveRetry } from '../../options/retry.js';
import { redactUrl } from '../../http/redact.js';
import { Backoff, Retrier, type FailedAttempt, type RetrySettings } from '../../http/retry.js';
import type { FetchTusOffsetOptions, ProgressSnapshot, TusOffset } from '../../types.js';
import { errorForNetwork, isSuccess } from '../../http/answers.js';

/** The protocol version this client speaks (tus 1.0 §Tus-Resumable). */
export const TUS_VERSION = '1.0.0';

const NO_PROGRESS: ProgressSnapshot = { bytesWritten: 0, bytesSent: 0, bytesAcknowledged: 0 };

/**
 * Asks a tus server how much of an upload it holds (tus 1.0 §HEAD), so a later
 * process can continue it: read the source from `offset` on and write it to a
 * `BufferedHttpWritable` given the same `uploadUrl`.
 */
export async function fetchTusOffset(uploadUrl: string | URL, options: FetchTusOffsetOptions = {}): Promise<TusOffset> {
  const got = options.got ?? defaultGot;
  return askTusOffset(new URL(uploadUrl), { got, headers: options.headers ?? {}, retry: resolveRetry(options.retry, got), signal: options.signal });
}

/** `fetchTusOffset` with its options resolved (uploadFile passes the upload's own). */
export async function askTusOffset(
  url: URL,
  { got, headers, retry, signal }: { got: Got; headers: Record<string, string>; retry: RetrySettings; signal?: AbortSignal | undefined },
): Promise<TusOffset> {
  const retrier = new Retrier(retry);
  const backoff = new Backoff();
  const onAbort = (): void => backoff.cancel(abortError(signal!.reason));
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      if (signal?.aborted) throw abortError(signal.reason);
      retrier.started();
      const answer = await headOnce(url, got, headers, signal);
      if (!('error' in answer)) return answer;
      const decision = await retrier.decide(answer);
      if (!decision.retry) throw decision.error;
      await backoff.wait(decision.delay);
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/** One `HEAD`: the upload's state, or the failed attempt for the retry engine. */
async function headOnce(url: URL, got: Got, headers: Record<string, string>, signal: AbortSignal | undefined): Promise<TusOffset | FailedAttempt> {
  const position = { uploadUrl: redactUrl(url) };
  let response;
  try {
    response = await got(url, {
      method: 'HEAD',
      headers: { ...headers, 'tus-resumable': TUS_VERSION },
      throwHttpErrors: false,
      followRedirect: false,
      retry: { limit: 0 },
      resolveBodyOnly: false,
      responseType: 'text',
      ...(signal ? { signal } : {}),
    });
  } catch (error) {
    if (signal?.aborted) throw abortError(signal.reason);
    return { error: errorForNetwork(error, NO_PROGRESS, position), code: (error as { code?: string }).code };
  }
  if (!isSuccess(response.statusCode)) {
    const error = new HttpStatusError(
      { statusCode: response.statusCode, statusMessage: response.statusMessage ?? '', body: response.body },
      NO_PROGRESS,
      position,
    );
    return { error, statusCode: response.statusCode, retryAfter: response.headers['retry-after'] };
  }
  const state = readTusOffset(response.headers);
  if (!state) throw new ProtocolError('HEAD answer without a valid Upload-Offset', NO_PROGRESS, position);
  return state;
}

/** `Upload-Offset` (required) and `Upload-Length` (when known) from an answer; undefined if the offset is missing or malformed. */
export function readTusOffset(headers: IncomingHttpHeaders): TusOffset | undefined {
  const offset = byteCount(headers['upload-offset']);
  if (offset === undefined) return undefined;
  const length = byteCount(headers['upload-length']);
  return length === undefined ? { offset } : { offset, length };
}

/**
 * `Upload-Metadata` (tus 1.0 §Upload-Metadata): comma-separated `key base64(value)`
 * pairs; a key may stand alone when its value is empty. Keys may not hold
 * spaces or commas, so they are checked here rather than mangled.
 */
export function encodeMetadata(metadata: Record<string, string>): string {
  return Object.entries(metadata)
    .map(([key, value]) => {
      if (!/^[!-+\--~]+$/.test(key)) {
        throw new TypeError(`metadata key ${JSON.stringify(key)} must be non-empty printable ASCII without spaces or commas (tus Upload-Metadata)`);
      }
      return value === '' ? key : `${key} ${Buffer.from(value, 'utf8').toString('base64')}`;
    })
    .join(',');
}

function byteCount(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string' || !/^\d+$/.test(value.trim())) return undefined;
  const count = Number(value.trim());
  return Number.isSafeInteger(count) ? count : undefined;
}
