import type { IncomingHttpHeaders } from 'node:http';
import defaultGot, { type Got } from 'got';
import { HttpStatusError, ProtocolError } from '../errors.js';
import { redactUrl } from '../redact.js';
import type { ProgressSnapshot } from '../progress.js';
import { errorForNetwork, isSuccess } from './answers.js';

/** The protocol version this client speaks (tus 1.0 §Tus-Resumable). */
export const TUS_VERSION = '1.0.0';

/** Where an upload stands on the server, as a `HEAD` reports it. */
export interface TusOffset {
  /** `Upload-Offset`: bytes the server has stored. Read your source from here on. */
  offset: number;
  /** `Upload-Length`, when the server knows the total (absent while the length is deferred). */
  length?: number;
}

export interface FetchTusOffsetOptions {
  /** The got instance for auth, agents, TLS and timeouts (default: got). */
  got?: Got;
  /** Extra request headers (auth, say). */
  headers?: Record<string, string>;
}

const NO_PROGRESS: ProgressSnapshot = { bytesWritten: 0, bytesSent: 0, bytesAcknowledged: 0 };

/**
 * Asks a tus server how much of an upload it holds (tus 1.0 §HEAD), so a later
 * process can continue it: read the source from `offset` on and write it to a
 * `BufferedHttpWritable` given the same `uploadUrl`.
 */
export async function fetchTusOffset(uploadUrl: string | URL, { got = defaultGot, headers = {} }: FetchTusOffsetOptions = {}): Promise<TusOffset> {
  const url = new URL(uploadUrl);
  const position = { uploadUrl: redactUrl(url) };
  let response;
  try {
    response = await got(url, {
      method: 'HEAD',
      headers: { ...headers, 'tus-resumable': TUS_VERSION },
      throwHttpErrors: false,
      followRedirect: false,
      resolveBodyOnly: false,
      responseType: 'text',
    });
  } catch (error) {
    throw errorForNetwork(error, NO_PROGRESS, position);
  }
  if (!isSuccess(response.statusCode)) {
    throw new HttpStatusError({ statusCode: response.statusCode, statusMessage: response.statusMessage ?? '', body: response.body }, NO_PROGRESS, position);
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
