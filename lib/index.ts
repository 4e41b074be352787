export { BufferedHttpWritable } from './buffered-http-writable.js';
export { uploadFile, type UploadFileOptions, type UploadFilePromise, type UploadFileResult } from './upload-file.js';
export {
  DEFAULT_CONCURRENCY,
  DEFAULT_EXPECT_CONTINUE_TIMEOUT,
  DEFAULT_HIGH_WATER_MARK,
  DEFAULT_MAX_CONCURRENCY,
  DEFAULT_MAX_RETRY_AFTER,
  DEFAULT_RETRY_LIMIT,
  DEFAULT_SPOOL_MAX_BYTES,
  type BufferedHttpWritableOptions,
  type Compression,
  type SpoolSettings,
  type UploadMethod,
  type UploadMode,
} from './options.js';
export {
  BufferedHttpWritableError,
  ContentLengthError,
  EarlyResponseError,
  FileChangedError,
  ErrorCodes,
  HttpStatusError,
  InsecureLocationError,
  isBufferedHttpWritableError,
  NetworkError,
  ProtocolError,
  RedirectError,
  ResumeGapError,
  RetryAfterError,
  SpoolCorruptError,
  SpoolLockedError,
  SpoolIoError,
  SpoolUnsafeError,
  SpoolRecordTooLargeError,
  type ErrorCode,
  type ErrorPosition,
  type FileChangeField,
  type ResponseSummary,
  type SpoolState,
} from './errors.js';
export type { ProgressSnapshot } from './core/progress.js';
export {
  DiagnosticsChannels,
  type BatchAcknowledgedMessage,
  type BatchIdentity,
  type BatchRetriedMessage,
  type BatchRetryReason,
  type BatchSentMessage,
  type BatchSplitMessage,
  type BatchSplitPiece,
  type ConcurrencyChangedMessage,
  type DiagnosticsChannelName,
  type DiagnosticsUpload,
  type UploadErrorMessage,
  type UploadFinishMessage,
  type UploadStartMessage,
} from './diagnostics.js';
export type { LimitChangeReason } from './modes/batch/adaptive-concurrency.js';
export type { BatchReport, UploadResponse } from './modes/transport.js';
export { BODY_SNIPPET_LIMIT, RESPONSE_BODY_LIMIT } from './http/body-cap.js';
export { fetchTusOffset, type FetchTusOffsetOptions, type TusOffset } from './modes/tus/protocol.js';
