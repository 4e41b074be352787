export { BufferedHttpWritable } from './buffered-http-writable.js';
export type {
  BatchReport,
  BatchModeOptions,
  BufferedHttpWritableOptions,
  Compression,
  DigestAlgorithm,
  ErrorPosition,
  FetchTusOffsetOptions,
  FileChangeField,
  GotInstance,
  SpoolState,
  SpoolOpened,
  SetAsideReason,
  ProgressSnapshot,
  ResponseSummary,
  SpoolSettings,
  StreamModeOptions,
  TusChecksum,
  TusChecksumAlgorithm,
  TusModeOptions,
  TusOffset,
  UploadFileFields,
  UploadFileOptions,
  UploadFilePromise,
  UploadFileResult,
  UploadMethod,
  UploadMode,
  UploadResponse,
} from './types.js';
export type { IdempotencyKeyPlacement, RetryOption } from './types.js';
export type { AzureBlobChecksum, AzureBlobModeOptions, AzureBlobSettings } from './types.js';
export { uploadFile } from './upload-file.js';
export { DEFAULT_HIGH_WATER_MARK } from './options/common.js';
export { DEFAULT_EXPECT_CONTINUE_TIMEOUT } from './options/continue.js';
export { DEFAULT_BACKOFF_LIMIT, DEFAULT_MAX_RETRY_AFTER, DEFAULT_MAX_RETRY_TIME } from './options/retry.js';
export { DEFAULT_CONCURRENCY } from './modes/batch/options.js';
export { DEFAULT_MAX_CONCURRENCY } from './http/adaptive-concurrency.js';
export { DEFAULT_SPOOL_MAX_BYTES } from './modes/batch/spool/settings.js';
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
  PartsStateError,
  ProtocolError,
  ProxyError,
  RedirectError,
  ResumeGapError,
  RetryAfterError,
  SourceReadError,
  TooManyPartsError,
  type ErrorCode,
} from './errors.js';
export { readUploadState, type UploadState } from './modes/parts/state-file.js';
export type { StoredPart } from './modes/parts/protocol.js';
export { SpoolCorruptError, SpoolInputError, SpoolIoError, SpoolLockedError, SpoolRecordTooLargeError, SpoolUnsafeError } from './spool-errors.js';
export { throughProxy, type ProxyRoutes } from './http/proxy.js';
export {
  DiagnosticsChannels,
  type BatchAcknowledgedMessage,
  type BatchIdentity,
  type BatchRetriedMessage,
  type RequestRetriedMessage,
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
export type { LimitChangeReason } from './http/adaptive-concurrency.js';
export { BODY_SNIPPET_LIMIT, RESPONSE_BODY_LIMIT } from './http/body-cap.js';
export { fetchTusOffset } from './modes/tus/protocol.js';

// RFC 9530 integrity: the digest fields a receiver checks, and the error for bytes corrupted on the way.
export { DigestMismatchError } from './errors.js';
export { CONTENT_DIGEST, REPR_DIGEST, contentDigestField, createDigest, digestOf, isDigestAlgorithm, parseDigestField } from './http/digest.js';
export type { S3ChecksumAlgorithm, S3Credentials, S3ModeOptions, S3Settings } from './types.js';
export { DEFAULT_PART_SIZE } from './modes/parts/options.js';
export { MIN_PART_SIZE as S3_MIN_PART_SIZE } from './modes/s3/options.js';
