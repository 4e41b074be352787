export { BufferedHttpWritable } from './buffered-http-writable.js';
export {
  DEFAULT_CONCURRENCY,
  DEFAULT_HIGH_WATER_MARK,
  DEFAULT_MAX_RETRY_AFTER,
  DEFAULT_RETRY_LIMIT,
  type BufferedHttpWritableOptions,
  type Compression,
  type UploadMethod,
  type UploadMode,
} from './options.js';
export {
  BODY_SNIPPET_LIMIT,
  BufferedHttpWritableError,
  ContentLengthError,
  EarlyResponseError,
  ErrorCodes,
  HttpStatusError,
  NetworkError,
  ProtocolError,
  RedirectError,
  ResumeGapError,
  RetryAfterError,
  type ErrorCode,
  type ErrorPosition,
  type ResponseSummary,
} from './errors.js';
export type { ProgressSnapshot } from './progress.js';
export type { BatchReport, UploadResponse } from './transports/transport.js';
export { RESPONSE_BODY_LIMIT } from './transports/answers.js';
export { fetchTusOffset, type FetchTusOffsetOptions, type TusOffset } from './transports/tus.js';
export { CREDENTIAL_HEADERS, REDACTED, hasUrlCredentials, isCredentialHeader, redactSecrets, redactUrl, secretValues } from './redact.js';
