/**
 * What a response status means to the library, in every mode: one table, so
 * a rule about a status is one edit. The retry policy (retry.ts) reads which
 * statuses are worth another attempt by default (the user's
 * `retry.statusCodes` replaces that list), the adaptive concurrency limit
 * reads what a status says about load, batch mode which refusal a smaller
 * request may pass and which refuses the batch for what it is.
 */

/** What a status says about the server's load: the adaptive concurrency limit's input. */
export type LoadSignal =
  /** A 2xx: the round trip is a valid sample. */
  | 'ok'
  /** An explicit refusal for load. */
  | 'overload'
  /** Implicit back pressure: the server or a gateway gave up on the request. */
  | 'failure'
  /** Says nothing about load. */
  | 'neutral';

interface StatusRow {
  /** The same request may succeed later: retried by default. */
  retry?: true;
  load?: 'overload' | 'failure';
  /** Refuses the batch for what it is: sending it again can never succeed (a spool sets it aside). */
  refusesBatch?: true;
  /** Only a smaller request can pass: batch mode splits the batch between writes. */
  split?: true;
  /** Refuses the request (credentials, route, proxy), whatever the batch holds: never counted against it. */
  refusesRequest?: true;
  /** A server error a record it cannot take may cause (a row it cannot parse): counted against the batch. */
  mayBlameBatch?: true;
  /** The bytes arrived other than sent (their digest did not match): the request is resent, the bytes are not refused. */
  corrupted?: true;
  /** The server does not offer this request at all: an optional operation (S3's ListParts) is simply absent. */
  unsupported?: true;
}

/**
 * Neither retried nor splitting: 405/501 (the request is not offered: an
 * optional operation is absent), 505 (never supported), 507 (storage does not
 * free itself in seconds), 511 (a captive portal wants a person), any other
 * 4xx. 401/403/404 refuse the request, not the batch: a spool keeps the batch
 * for a later start.
 */
const STATUSES: ReadonlyMap<number, StatusRow> = new Map<number, StatusRow>([
  [400, { refusesBatch: true }],
  [401, { refusesRequest: true }],
  [403, { refusesRequest: true }],
  [404, { refusesRequest: true }],
  [405, { unsupported: true }],
  [407, { refusesRequest: true }],
  [408, { retry: true, load: 'failure' }],
  // The same Idempotency-Key still in progress, or tus's stale offset (tus 1.0 §PATCH).
  [409, { retry: true }],
  // Content Too Large (RFC 9110 §15.5.14).
  [413, { refusesBatch: true, split: true }],
  [415, { refusesBatch: true }],
  [422, { refusesBatch: true }],
  // A busy lock, and Too Early.
  [423, { retry: true }],
  [425, { retry: true }],
  [429, { retry: true, load: 'overload' }],
  // tus 1.0 checksum extension: Checksum Mismatch, the PATCH's bytes discarded.
  [460, { corrupted: true }],
  [500, { retry: true, load: 'failure', mayBlameBatch: true }],
  [501, { unsupported: true }],
  [502, { retry: true, load: 'failure' }],
  [503, { retry: true, load: 'overload' }],
  [504, { retry: true, load: 'failure' }],
]);

export function isSuccess(statusCode: number): boolean {
  return statusCode >= 200 && statusCode < 300;
}

export function isRedirect(statusCode: number): boolean {
  return statusCode >= 300 && statusCode < 400;
}

/** The statuses retried unless `retry.statusCodes` says otherwise, ascending. */
export function retriedStatuses(): number[] {
  return [...STATUSES].filter(([, row]) => row.retry).map(([statusCode]) => statusCode);
}

/** What a status says about load: `ok` for a 2xx, `overload` for an explicit refusal, `failure` for a gateway or server giving up. */
export function loadSignal(statusCode: number): LoadSignal {
  if (isSuccess(statusCode)) return 'ok';
  return STATUSES.get(statusCode)?.load ?? 'neutral';
}

/** The server refused for load (429, 503): the adaptive limit is cut, and its first backoff is short. */
export function isOverload(statusCode: number | undefined): boolean {
  return statusCode !== undefined && STATUSES.get(statusCode)?.load === 'overload';
}

/** Only a smaller request can pass (413): a batch of several writes is split between them. */
export function asksToSplit(statusCode: number | undefined): boolean {
  return statusCode !== undefined && STATUSES.get(statusCode)?.split === true;
}

/** The server does not offer this request (405 Method Not Allowed, 501 Not Implemented): an optional operation is absent. */
export function saysUnsupported(statusCode: number | undefined): boolean {
  return statusCode !== undefined && STATUSES.get(statusCode)?.unsupported === true;
}

/** The batch itself is refused, so sending it again can never succeed. */
export function refusesBatch(statusCode: number): boolean {
  return STATUSES.get(statusCode)?.refusesBatch === true;
}

/** The statuses a spool sets a batch aside on at once unless `spool.setAsideOn` says otherwise, ascending. */
export function refusedBatchStatuses(): number[] {
  return [...STATUSES].filter(([, row]) => row.refusesBatch).map(([statusCode]) => statusCode);
}

/**
 * A refusal that may be the batch's own fault, counted against it run after
 * run (a spool sets it aside after a few): a refusal of the batch, a 500, or
 * a 4xx neither retried nor refusing the request itself; never a digest
 * mismatch (the bytes were changed on the way, not wrong at the source).
 */
export function mayBlameBatch(statusCode: number, body = ''): boolean {
  // Corrupted on the way: the batch itself is fine.
  if (saysDigestMismatch(statusCode, body)) return false;
  const row = STATUSES.get(statusCode);
  if (row?.refusesBatch || row?.mayBlameBatch) return true;
  return statusCode >= 400 && statusCode < 500 && !row?.retry && !row?.refusesRequest;
}

/**
 * What a 400 says when a digest or checksum the request carried did not match
 * its bytes: RFC 9530's field names, S3's `BadDigest` and
 * `XAmzContentSHA256Mismatch`, Azure's `Md5Mismatch` and `Crc64Mismatch`.
 */
const DIGEST_MISMATCH_400 = /content-digest|repr-digest|upload-checksum|digest mismatch|checksum mismatch|baddigest|sha256mismatch|md5mismatch|crc64mismatch/i;

/**
 * The server received bytes other than those sent (a tus 460, or a 400 whose
 * body names the digest that failed): a corrupted transfer, resent within
 * the retry budget, never a refusal of the data.
 */
export function saysDigestMismatch(statusCode: number | undefined, body = ''): boolean {
  if (statusCode === undefined) return false;
  if (STATUSES.get(statusCode)?.corrupted) return true;
  return statusCode === 400 && DIGEST_MISMATCH_400.test(body);
}

/**
 * `Retry-After` in ms (RFC 9110 §10.2.3: delay-seconds or an HTTP-date);
 * undefined when absent or unreadable.
 */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
