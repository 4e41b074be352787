import diagnosticsChannel from 'node:diagnostics_channel';
import type { Writable } from 'node:stream';
import type { LimitChangeReason } from './http/adaptive-concurrency.js';
import type { AttemptKind } from './http/concurrency-limiter.js';
import type { ProgressSnapshot, UploadMode } from './types.js';

/**
 * `node:diagnostics_channel` channels, named as undici and got name theirs
 * (`<package>:<subject>:<event>`). Subscribe with
 * `diagnostics_channel.subscribe(name, listener)`; each listener receives
 * the message documented on its interface below. Messages are built only
 * when a channel has subscribers, so an unobserved upload pays one property
 * read per event.
 *
 * Messages are read-only snapshots: changing one does not change the upload.
 * `upload` is the writable itself, to tell concurrent uploads apart (as
 * undici passes its `request`). Nothing here carries header values or URL
 * credentials (invariant 8).
 */
export const DiagnosticsChannels = {
  /** {@link UploadStartMessage}: the first request of an upload is about to go out (every mode). */
  uploadStart: 'buffered-http-writable:upload:start',
  /** {@link UploadFinishMessage}: every byte was acknowledged; `'finish'` follows (every mode). */
  uploadFinish: 'buffered-http-writable:upload:finish',
  /** {@link UploadErrorMessage}: the upload failed or was aborted; `'error'` follows (every mode). */
  uploadError: 'buffered-http-writable:upload:error',
  /** {@link BatchSentMessage}: one attempt of a batch is handed to got (batch mode; retries included). */
  batchSent: 'buffered-http-writable:batch:sent',
  /** {@link BatchAcknowledgedMessage}: a batch (or a split half) was answered 2xx. */
  batchAcknowledged: 'buffered-http-writable:batch:acknowledged',
  /** {@link BatchRetriedMessage}: an attempt failed and the batch will be sent again after a delay. */
  batchRetried: 'buffered-http-writable:batch:retried',
  /** {@link RequestRetriedMessage}: a request of a tus, s3 or azure-blob upload failed and will be sent again after a delay (batch: `batchRetried`). */
  requestRetried: 'buffered-http-writable:request:retried',
  /** {@link BatchSplitMessage}: a batch answered 413 was split at a write boundary. */
  batchSplit: 'buffered-http-writable:batch:split',
  /** {@link ConcurrencyChangedMessage}: the adaptive concurrency limit moved (`concurrency: 'auto'`). */
  concurrencyChanged: 'buffered-http-writable:concurrency:changed',
} as const;

export type DiagnosticsChannelName = (typeof DiagnosticsChannels)[keyof typeof DiagnosticsChannels];

/**
 * What `upload` is in a message: the `BufferedHttpWritable` itself, or for
 * `uploadFile()` an object made once per call. Typed as its base class so
 * that this module, which the core imports, does not import the writable.
 */
export type DiagnosticsUpload = Writable | { readonly uploadFile: string | number };

/** What an upload's messages say of it, fixed at construction (`upload` is set once the writable exists). */
export interface UploadDiagnostics {
  upload?: DiagnosticsUpload;
  mode: UploadMode;
  /** The upload URL without user or password. */
  url: string;
  /** The `concurrency` option (1 for stream and tus; batch, s3 and azure-blob: theirs). */
  concurrency: number | 'auto';
}

/** `buffered-http-writable:upload:start` */
export interface UploadStartMessage {
  upload: DiagnosticsUpload;
  mode: UploadMode;
  /** The upload URL without user or password. */
  url: string;
  /** batch: the `concurrency` option as given (a number or `'auto'`); 1 for stream and tus. */
  concurrency: number | 'auto';
}

/** `buffered-http-writable:upload:finish` */
export interface UploadFinishMessage {
  upload: DiagnosticsUpload;
  mode: UploadMode;
  progress: ProgressSnapshot;
  /** The final answer's status (batch: the last acknowledged batch's); absent when no request was made. */
  statusCode?: number;
}

/** `buffered-http-writable:upload:error` */
export interface UploadErrorMessage {
  upload: DiagnosticsUpload;
  mode: UploadMode;
  /** The error `'error'` carries: an `ERR_BHW_*` error, or Node's `AbortError`. */
  error: Error;
  progress: ProgressSnapshot;
}

/** Where a batch (or a split piece of one) stands: the headers it is sent with. */
export interface BatchIdentity {
  /** `Batch-Sequence` (split pieces keep their parent's). */
  sequence: number;
  /** `Batch-Offset`: the byte offset of its first byte in the whole upload. */
  offset: number;
  /** Uncompressed bytes. */
  size: number;
  /** `Idempotency-Key` (`<key>.0`, `<key>.1` for split pieces). */
  key: string;
}

/** `buffered-http-writable:batch:sent` */
export interface BatchSentMessage extends BatchIdentity {
  upload: DiagnosticsUpload;
  /** 1 for the first attempt of this batch (or piece), then 2, 3, … */
  attempt: number;
  /** Bytes on the wire (`Content-Length`): differs from `size` with compression. */
  bodySize: number;
  /** The concurrency limit when the attempt started. */
  limit: number;
  /** Attempts in flight, this one included. */
  inFlight: number;
}

/** `buffered-http-writable:batch:acknowledged` */
export interface BatchAcknowledgedMessage extends BatchIdentity {
  upload: DiagnosticsUpload;
  statusCode: number;
  /** Attempts it took, 1 when the first succeeded. */
  attempts: number;
  /** Round-trip time of the successful attempt on its connection (upload to end of download, no connection setup), ms. */
  rttMs: number;
}

/**
 * Why an attempt failed, in the terms the concurrency controller uses:
 * `overload` (429, 503), `failure` (408, 5xx gateway errors, timeouts,
 * connection failures). The status or error code says exactly which.
 * `digest-mismatch`: the server saw corrupted bytes (their `Content-Digest`
 * did not match) and the same bytes go again; count these to see corruption.
 */
export type BatchRetryReason = Exclude<AttemptKind, 'ok' | 'neutral'> | 'digest-mismatch';

/** `buffered-http-writable:batch:retried` */
export interface BatchRetriedMessage extends BatchIdentity {
  upload: DiagnosticsUpload;
  /** The attempt that failed (1-based). */
  attempt: number;
  reason: BatchRetryReason;
  /** The answer's status, when there was an answer. */
  statusCode?: number;
  /** got's error code (`ETIMEDOUT`, `ECONNRESET`, …), when there was no answer. */
  code?: string;
  /** How long this batch waits before its next attempt, ms (its own backoff, or the upload-wide pause). */
  delayMs: number;
  /** The server's `Retry-After`, ms, when it sent one (it pauses the whole upload). */
  retryAfterMs?: number;
  /**
   * With `retryAfterMs`: when the upload-wide pause ends, on `performance.now()`'s
   * clock (a later `Retry-After` may extend it, never shorten it). No attempt
   * of this upload starts before it.
   */
  pausedUntil?: number;
}

/** `buffered-http-writable:request:retried` */
export interface RequestRetriedMessage {
  upload: DiagnosticsUpload;
  mode: UploadMode;
  /** Which request failed: `'PATCH'`, `'HEAD'`, `'part 3'`, `'complete'`, … */
  request: string;
  /** The attempt that failed (1-based). */
  attempt: number;
  /** Why it is repeated, as the retry engine says: the status (`'503'`), got's error code, `'digest-mismatch'`, `'no-progress'`. */
  reason: string;
  /** The answer's status, when there was an answer. */
  statusCode?: number;
  /** got's error code (`ETIMEDOUT`, `ECONNRESET`, …), when there was no answer. */
  code?: string;
  /** How long the request waits before its next attempt, ms. */
  delayMs: number;
}

/** One piece of a split batch, as in {@link BatchSplitMessage}. */
export interface BatchSplitPiece {
  offset: number;
  size: number;
  key: string;
}

/** `buffered-http-writable:batch:split` */
export interface BatchSplitMessage extends BatchIdentity {
  upload: DiagnosticsUpload;
  /** The answer that caused the split (413). */
  statusCode: number;
  /** The two halves, in order; each may be split again (its own message). */
  pieces: [BatchSplitPiece, BatchSplitPiece];
}

/** `buffered-http-writable:concurrency:changed` */
export interface ConcurrencyChangedMessage {
  upload: DiagnosticsUpload;
  limit: number;
  previous: number;
  reason: LimitChangeReason;
  /** The RTT window's mean that decided the change, ms; for `'slow-start'`, the one answer's RTT (absent for a cut on an overload answer and for `'confirmed'`). */
  rttMs?: number;
  /** The moving RTT baseline it was compared with, ms, once there is one. */
  baselineRttMs?: number;
}

const uploadStart = diagnosticsChannel.channel(DiagnosticsChannels.uploadStart);
const uploadFinish = diagnosticsChannel.channel(DiagnosticsChannels.uploadFinish);
const uploadError = diagnosticsChannel.channel(DiagnosticsChannels.uploadError);
const batchSent = diagnosticsChannel.channel(DiagnosticsChannels.batchSent);
const batchAcknowledged = diagnosticsChannel.channel(DiagnosticsChannels.batchAcknowledged);
const batchRetried = diagnosticsChannel.channel(DiagnosticsChannels.batchRetried);
const batchSplit = diagnosticsChannel.channel(DiagnosticsChannels.batchSplit);
const requestRetried = diagnosticsChannel.channel(DiagnosticsChannels.requestRetried);
const concurrencyChanged = diagnosticsChannel.channel(DiagnosticsChannels.concurrencyChanged);

/*
 * Publish helpers. Each checks `hasSubscribers` before it builds anything, so
 * the caller passes what it already holds (the transport's batch record, the
 * Progress object) and no message or snapshot exists unless someone listens.
 */

export function publishUploadStart(upload: DiagnosticsUpload, mode: UploadMode, redactedUrl: string, concurrency: number | 'auto'): void {
  if (!uploadStart.hasSubscribers) return;
  uploadStart.publish({ upload, mode, url: redactedUrl, concurrency } satisfies UploadStartMessage);
}

export function publishUploadFinish(
  upload: DiagnosticsUpload,
  mode: UploadMode,
  progress: { snapshot(): ProgressSnapshot },
  statusCode: number | undefined,
): void {
  if (!uploadFinish.hasSubscribers) return;
  const message: UploadFinishMessage = { upload, mode, progress: progress.snapshot() };
  if (statusCode !== undefined) message.statusCode = statusCode;
  uploadFinish.publish(message);
}

export function publishUploadError(upload: DiagnosticsUpload, mode: UploadMode, error: Error, progress: { snapshot(): ProgressSnapshot }): void {
  if (!uploadError.hasSubscribers) return;
  uploadError.publish({ upload, mode, error, progress: progress.snapshot() } satisfies UploadErrorMessage);
}

export function publishBatchSent(
  upload: DiagnosticsUpload,
  batch: Readonly<BatchIdentity>,
  attempt: number,
  bodySize: number,
  limit: number,
  inFlight: number,
): void {
  if (!batchSent.hasSubscribers) return;
  const { sequence, offset, size, key } = batch;
  batchSent.publish({ upload, sequence, offset, size, key, attempt, bodySize, limit, inFlight } satisfies BatchSentMessage);
}

export function publishBatchAcknowledged(upload: DiagnosticsUpload, batch: Readonly<BatchIdentity>, statusCode: number, attempts: number, rttMs: number): void {
  if (!batchAcknowledged.hasSubscribers) return;
  const { sequence, offset, size, key } = batch;
  batchAcknowledged.publish({ upload, sequence, offset, size, key, statusCode, attempts, rttMs } satisfies BatchAcknowledgedMessage);
}

/** `failed` says what went wrong: the answer's status, or got's error code when there was none. */
export function publishBatchRetried(
  upload: DiagnosticsUpload,
  batch: Readonly<BatchIdentity>,
  attempt: number,
  reason: BatchRetryReason,
  failed: { statusCode?: number | undefined; code?: string | undefined },
  delayMs: number,
  retryAfterMs: number | undefined,
  pausedUntil?: number,
): void {
  if (!batchRetried.hasSubscribers) return;
  const { sequence, offset, size, key } = batch;
  const message: BatchRetriedMessage = { upload, sequence, offset, size, key, attempt, reason, delayMs };
  if (failed.statusCode !== undefined) message.statusCode = failed.statusCode;
  else if (failed.code !== undefined) message.code = failed.code;
  if (retryAfterMs !== undefined) message.retryAfterMs = retryAfterMs;
  if (pausedUntil !== undefined) message.pausedUntil = pausedUntil;
  batchRetried.publish(message);
}

/** A request of a tus or multipart upload will be sent again; `upload` undefined (not yet a writable) publishes nothing. */
export function publishRequestRetried(
  diagnostics: UploadDiagnostics,
  request: string,
  retry: { attempts: number; reason: string; delay: number; failure: { statusCode?: number | undefined; code?: string | undefined } },
): void {
  const { upload, mode } = diagnostics;
  if (!upload || !requestRetried.hasSubscribers) return;
  const message: RequestRetriedMessage = { upload, mode, request, attempt: retry.attempts, reason: retry.reason, delayMs: retry.delay };
  if (retry.failure.statusCode !== undefined) message.statusCode = retry.failure.statusCode;
  else if (retry.failure.code !== undefined) message.code = retry.failure.code;
  requestRetried.publish(message);
}

/** `halves` are the two pieces `splitBatch` returned (anything with `offset`, `key` and `bytes`). */
export function publishBatchSplit(
  upload: DiagnosticsUpload,
  batch: Readonly<BatchIdentity>,
  statusCode: number,
  halves: readonly [{ offset: number; key: string; bytes: { length: number } }, { offset: number; key: string; bytes: { length: number } }],
): void {
  if (!batchSplit.hasSubscribers) return;
  const { sequence, offset, size, key } = batch;
  const [left, right] = halves;
  const pieces: [BatchSplitPiece, BatchSplitPiece] = [
    { offset: left.offset, size: left.bytes.length, key: left.key },
    { offset: right.offset, size: right.bytes.length, key: right.key },
  ];
  batchSplit.publish({ upload, sequence, offset, size, key, statusCode, pieces } satisfies BatchSplitMessage);
}

/** `change` is what the controller's `onChange` receives; copied, so subscribers cannot alter it. */
export function publishConcurrencyChanged(
  upload: DiagnosticsUpload,
  change: { limit: number; previous: number; reason: LimitChangeReason; rttMs?: number; baselineRttMs?: number },
): void {
  if (!concurrencyChanged.hasSubscribers) return;
  const message: ConcurrencyChangedMessage = { upload, limit: change.limit, previous: change.previous, reason: change.reason };
  if (change.rttMs !== undefined) message.rttMs = change.rttMs;
  if (change.baselineRttMs !== undefined) message.baselineRttMs = change.baselineRttMs;
  concurrencyChanged.publish(message);
}
