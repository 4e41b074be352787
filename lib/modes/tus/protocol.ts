import type { IncomingHttpHeaders } from 'node:http';
import type { Got } from 'got';
import { ProtocolError } from '../../errors.js';
import { resolveGot } from '../../options/common.js';
import { resolveRetry } from '../../options/retry.js';
import { attempt } from '../../http/attempt.js';
import { redactUrl } from '../../http/redact.js';
import { retrying } from '../../http/retry-loop.js';
import type { RetrySettings } from '../../http/retry.js';
import type { FetchTusOffsetOptions, ProgressSnapshot, TusOffset } from '../../types.js';

/** The protocol version this client speaks (tus 1.0 §Tus-Resumable). */
export const TUS_VERSION = '1.0.0';

const NO_PROGRESS: ProgressSnapshot = { bytesWritten: 0, bytesSent: 0, bytesAcknowledged: 0 };

/**
 * Asks a tus server how much of an upload it holds (tus 1.0 §HEAD), so a later
 * process can continue it: read the source from `offset` on and write it to a
 * `BufferedHttpWritable` given the same `uploadUrl`.
 */
export async function fetchTusOffset(uploadUrl: string | URL, options: FetchTusOffsetOptions = {}): Promise<TusOffset> {
  const got = resolveGot(options.got);
  return askTusOffset(new URL(uploadUrl), { got, headers: options.headers ?? {}, retry: resolveRetry(options.retry, got), signal: options.signal });
}

/** `fetchTusOffset` with its options resolved (uploadFile passes the upload's own). */
export function askTusOffset(
  url: URL,
  { got, headers, retry, signal }: { got: Got; headers: Record<string, string>; retry: RetrySettings; signal?: AbortSignal | undefined },
): Promise<TusOffset> {
  return retrying(() => headOnce(url, got, headers, signal), { settings: retry, signal });
}

/** One `HEAD`: the upload's state, or `AttemptFailed` for the retry loop. */
async function headOnce(url: URL, got: Got, headers: Record<string, string>, signal: AbortSignal | undefined): Promise<TusOffset> {
  const position = (): { uploadUrl: string } => ({ uploadUrl: redactUrl(url) });
  const spec = { method: 'HEAD' as const, url, headers: { ...headers, 'tus-resumable': TUS_VERSION }, signal };
  const response = await attempt(got, spec, { progress: () => NO_PROGRESS, position });
  const state = readTusOffset(response.headers);
  if (!state) throw new ProtocolError('HEAD answer without a valid Upload-Offset', NO_PROGRESS, position());
  return state;
}

/** `Upload-Offset` (required) and `Upload-Length` (when known) from a response; undefined if the offset is missing or malformed. */
export function readTusOffset(headers: IncomingHttpHeaders): TusOffset | undefined {
  const offset = byteCount(headers['upload-offset']);
  if (offset === undefined) return undefined;
  const length = byteCount(headers['upload-length']);
  return length === undefined ? { offset } : { offset, length };
}

function byteCount(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string' || !/^\d+$/.test(value.trim())) return undefined;
  const count = Number(value.trim());
  return Number.isSafeInteger(count) ? count : undefined;
}
