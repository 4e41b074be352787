import type { BatchReport, ProgressSnapshot } from './reports.js';
import type {
  AzureBlobSettings,
  Compression,
  DigestAlgorithm,
  GotInstance,
  IdempotencyKeyPlacement,
  RetryOption,
  S3Settings,
  SpoolSettings,
  TusOffset,
  UploadMethod,
  UploadMode,
} from './settings.js';

/**
 * The options a caller writes: `new BufferedHttpWritable(url, options)`,
 * one type per mode built from groups of fields, and `uploadFile`'s.
 */

/**
 * Options of `new BufferedHttpWritable(url, options)`: one type per mode,
 * told apart by `mode`, so an option of another mode does not compile
 * (`{ mode: 'stream', retry }`). Everything but `mode` (batch, tus) is
 * optional, and an optional key set to `undefined` is ignored, as if absent.
 */
export type BufferedHttpWritableOptions = StreamModeOptions | BatchModeOptions | TusModeOptions | S3ModeOptions | AzureBlobModeOptions;

/** `mode: 'stream'` (the default): one chunked (or sized) request carries everything written. */
export interface StreamModeOptions extends StreamFields, NotOf<StreamFields> {
  /** How buffers reach the server; `'stream'` is the default. */
  mode?: 'stream' | undefined;
}

/** `mode: 'batch'`: one request per buffer. */
export interface BatchModeOptions extends BatchFields, NotOf<BatchFields> {
  mode: 'batch';
}

/** `mode: 'tus'`: the tus resumable upload protocol. */
export interface TusModeOptions extends TusFields, NotOf<TusFields> {
  mode: 'tus';
}

/** `mode: 's3'`: an S3 multipart upload, one part per buffer (a body smaller than one part: one PutObject). */
export interface S3ModeOptions extends S3Fields, NotOf<S3Fields> {
  mode: 's3';
}

/** `mode: 'azure-blob'`: an Azure block blob, one block per buffer, committed in `end()`; the URL carries a SAS. */
export interface AzureBlobModeOptions extends AzureBlobFields, NotOf<AzureBlobFields> {
  mode: 'azure-blob';
}

/*
 * Each mode's keys, from the groups below. A new option is one line in its
 * group (or in a mode's own group); NotOf refuses it in the other modes.
 */
type StreamFields = CommonFields & MethodFields & SizedBodyFields & DigestFields;

type BatchFields = CommonFields & MethodFields & RetryFields & DigestFields & ConcurrencyFields & BatchOnlyFields;

type TusFields = CommonFields & SizedBodyFields & RetryFields & DigestFields & TusOnlyFields;

type S3Fields = CommonFields & RetryFields & ConcurrencyFields & PartsFields & S3OnlyFields;

type AzureBlobFields = CommonFields & RetryFields & ConcurrencyFields & PartsFields & AzureBlobOnlyFields;

/** Every key of every mode, each optional: what the option resolvers read (a caller in JavaScript may pass any of them). */
export interface AnyModeOptions
  extends
    CommonFields,
    MethodFields,
    SizedBodyFields,
    RetryFields,
    DigestFields,
    ConcurrencyFields,
    PartsFields,
    BatchOnlyFields,
    TusOnlyFields,
    S3OnlyFields,
    AzureBlobOnlyFields {
  mode?: UploadMode | undefined;
}

/** The other modes' keys, each allowed only as absent or `undefined`. */
type NotOf<Own> = { [Key in Exclude<keyof AnyModeOptions, keyof Own | 'mode'>]?: undefined };

/** Options of every mode. */
interface CommonFields {
  /**
   * Bytes per buffer (default 1 MiB): the flush threshold, the size of each
   * preallocated buffer and the stream's own backpressure level.
   */
  highWaterMark?: number | undefined;
  /** Extra request headers, sent with every request. */
  headers?: Record<string, string> | undefined;
  /** Aborts the upload: in-flight requests are ended and the stream errors with `AbortError`. */
  signal?: AbortSignal | undefined;
  /**
   * A got instance (`got.extend({...})`) for auth, agents, TLS, proxies,
   * HTTP/2, timeouts and hooks. The library still decides `throwHttpErrors`,
   * `followRedirect`, `retry`, `method` and the body: see the README.
   */
  got?: GotInstance | undefined;
  /**
   * More request headers whose values are credentials (`['X-Signature']`),
   * besides `Authorization`, `Proxy-Authorization`, `Cookie`, `X-Api-Key`,
   * `Api-Key` and `X-Auth-Token`: their values are redacted wherever the
   * library shows text, and they are not sent to a tus upload URL on another origin.
   */
  secretHeaders?: string[] | undefined;
}

/** stream and batch. */
interface MethodFields {
  /** HTTP method of the upload request(s): `POST` (default), `PUT` or `PATCH`. */
  method?: UploadMethod | undefined;
}

/** stream and tus: one body whose size may be declared. */
interface SizedBodyFields {
  /**
   * Total bytes that will be written. stream: sent as `Content-Length` instead
   * of chunked encoding; tus: sent as `Upload-Length` at creation. Writing past
   * it, or ending short of it, fails the upload.
   */
  contentLength?: number | undefined;
  /**
   * When the request carries `Expect: 100-continue` (in `headers` or the got
   * instance's), how long (ms) the body waits for the server's `100 Continue`
   * before it is sent anyway (default 1000, as curl). A final answer that
   * comes first ends the upload with no body byte sent.
   */
  expectContinueTimeout?: number | undefined;
}

/** batch and tus: requests that can be sent again. */
interface RetryFields {
  /** got retry options, plus `maxRetryTime`; see the README for the defaults. */
  retry?: RetryOption | undefined;
}

/** batch, s3 and azure-blob: requests in parallel. */
interface ConcurrencyFields {
  /**
   * Requests in flight at once (default: batch 1, s3 and azure-blob 4), or `'auto'`: a limit that
   * starts at 1 and adapts to the server (grows while answers are 2xx and
   * round trips stay near their baseline, cut on 429/503, failures and
   * climbing round trips), up to `maxConcurrency`. The pool holds
   * `concurrency + 1` buffers (`maxConcurrency + 1` with `'auto'`).
   */
  concurrency?: number | 'auto' | undefined;
  /** With `concurrency: 'auto'` only: the highest the limit may go (default 16). */
  maxConcurrency?: number | undefined;
}

/** s3 and azure-blob: a multipart upload, one part per buffer. */
interface PartsFields {
  /**
   * A file where the upload records its id and every part the server holds
   * (JSON, 0600, no credential): a later process given the same file resumes
   * the upload with the next part (`readUploadState(file)` says from which
   * byte to write). Removed once the object is complete.
   */
  stateFile?: string | undefined;
  /** On a failure or an abort, keep the stored parts instead of aborting the multipart upload (default: true with a `stateFile`, to resume; false without). */
  leavePartsOnError?: boolean | undefined;
}

/** stream, batch and tus: integrity digests the server can verify. */
interface DigestFields {
  /**
   * Tell the server the digest of what it receives, so a byte changed on the
   * way is caught (default `false`): batch, RFC 9530 `Content-Digest` on each
   * request; stream, `Content-Digest` in a trailer; tus, `Upload-Checksum` on
   * each PATCH when the server takes the algorithm. See the README.
   */
  digest?: DigestAlgorithm | false | undefined;
}

interface BatchOnlyFields {
  /** Send a partial batch this many ms after its first byte arrived (default: off). */
  flushInterval?: number | undefined;
  /**
   * Where each batch's idempotency key travels (default: the
   * `Idempotency-Key` header). `header` renames the header or, `false`, drops
   * it; `query` also sends the key as that query parameter. The same key on
   * every retry and, with a spool, after a restart.
   */
  idempotencyKey?: IdempotencyKeyPlacement | undefined;
  /** Compress each batch (`Content-Encoding: gzip`). */
  compress?: Compression | undefined;
  /**
   * Keep every record on disk until the server acknowledged it, so a
   * process that dies loses nothing whose write callback fired; a restart on
   * the same `dir` resends what is left first, byte-identical with the same keys.
   */
  spool?: SpoolSettings | undefined;
}

interface TusOnlyFields {
  /** Continue an existing upload instead of creating one. */
  uploadUrl?: string | URL | undefined;
  /**
   * With `uploadUrl`: where that upload stands, as `fetchTusOffset(uploadUrl)`
   * answered. The transport then starts from it instead of asking `HEAD` again;
   * a server that moved meanwhile answers the first `PATCH` with 409, and the
   * upload recovers as from any failed PATCH (`HEAD`, then resend or `ResumeGapError`).
   */
  resumeFrom?: TusOffset | undefined;
  /** Sent as `Upload-Metadata` at creation. */
  metadata?: Record<string, string> | undefined;
  /** On abort, `DELETE` the upload (tus termination extension). Default false. */
  deleteOnAbort?: boolean | undefined;
  /**
   * Follow an upload URL (`Location`) that turns an https endpoint into
   * plain http. Default false: such a URL fails the upload with
   * `InsecureLocationError` before any byte goes to it.
   */
  allowInsecureLocation?: boolean | undefined;
}

interface AzureBlobOnlyFields {
  /** azure-blob: the blob's content type and metadata, and the per-block checksum. */
  azureBlob?: AzureBlobSettings | undefined;
}

interface S3OnlyFields {
  /**
   * s3: credentials, region, checksum and the object's headers. Required in
   * that mode (refused at construction without it); optional in the type so
   * code that picks the mode at run time (`mode: UploadMode`) still compiles.
   */
  s3?: S3Settings | undefined;
}

/** Options of `uploadFile`: the Writable's options of one mode, plus what only a file upload can do. */
export type UploadFileOptions = BufferedHttpWritableOptions & UploadFileFields;

/** What only a file upload can do, in every mode. */
export interface UploadFileFields {
  /**
   * Declare the file's size up front: `Content-Length` in stream mode,
   * `Upload-Length` in tus mode (default true for a regular file; a pipe has
   * no size to declare).
   */
  declareSize?: boolean | undefined;
  /** Called with the figures of each `'progress'` event of the Writable. */
  onProgress?: ((progress: ProgressSnapshot) => void) | undefined;
  /** batch: called for each acknowledged batch, as the Writable's `'batch'` event. */
  onBatch?: ((report: BatchReport) => void) | undefined;
  /**
   * Called with each buffer as it is read, before it is sent (to hash the
   * content on the way, say). The buffer is the pool's: read it at once, do
   * not keep it. A returned promise holds back the next read (and the
   * upload's end) until it settles: a consumer on another thread that fell behind. Any other
   * value is ignored (`(bytes) => hash.update(bytes)` is fine).
   */
  onRead?: ((bytes: Buffer) => unknown) | undefined;
}
