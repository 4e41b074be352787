import type { IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Got, RetryOptions } from 'got';

/**
 * The library's public types, in one module: the options a caller writes and
 * what the library hands back (progress, answers, reports, error fields).
 * Types only: nothing here runs, and this module imports nothing of lib/, so
 * every file may import it without making a circle.
 */

// The options.

export type UploadMode = 'stream' | 'batch' | 'tus' | 's3' | 'azure-blob';
export type UploadMethod = 'POST' | 'PUT' | 'PATCH';
export type Compression = 'gzip';
/** An RFC 9530 digest algorithm (the two the RFC lists as active). */
export type DigestAlgorithm = 'sha-256' | 'sha-512';

/**
 * A got instance of major version 14, 15 or 16 (got itself, or
 * `got.extend({...})`). Each version declares its own `Got` type, which
 * TypeScript holds incompatible with the others, so the `got` option takes
 * the part of the API the library calls, which all three share.
 */
export type GotInstance = Got | GotOfAnyVersion;

/** What the library calls on a got instance, written so got 14, 15 and 16 all fit. */
export interface GotOfAnyVersion {
  (url: string | URL, options?: never): PromiseLike<unknown>;
  stream: (url: string | URL, options?: never) => Duplex;
  extend: (...instancesOrOptions: never[]) => GotOfAnyVersion;
  defaults: { options: object };
}

/** batch: where and how records are kept until acknowledged. */
export interface SpoolSettings {
  /** The spool's directory (created if missing); one writer at a time. */
  dir: string;
  /** Disk the spool may use before writes push back (default 1 GiB). Nothing is ever dropped. */
  maxBytes?: number | undefined;
  /** `fdatasync` every append: a record whose callback fired survives a power loss too, not only a crash (default false). */
  fsync?: boolean | undefined;
  /**
   * Unsafe: use a directory owned by another user, or writable by group or
   * others, instead of refusing it with `ERR_BHW_SPOOL_UNSAFE` (default
   * false). Whoever can write there can read the records or redirect them.
   */
  allowUnsafeDirectory?: boolean | undefined;

  /**
   * The producer's stream, named by the caller (a file's device, inode, size
   * and mtime, say). Kept in the journal with where in the spool that input
   * starts, so the `'spool'` event can say how much of it the spool already
   * took (`inputBytes`): read the input from there on. Opening a spool that
   * still holds records of another input fails with `ERR_BHW_SPOOL_INPUT`;
   * `'finish'` forgets the input. Default: not checked, not recorded.
   */
  input?: string | undefined;
  /**
   * Answers that set the batch aside at once (moved to `<dir>/rejected/`,
   * not retried): a list of statuses, or a test of the answer (its body's
   * start, redacted). Default: 400, 413, 415 and 422. Besides these, a batch
   * whose refusal ended 3 runs (500, or a 4xx other than 401, 403, 404 and
   * 407 and those retried) is set aside by the third.
   */
  setAsideOn?: readonly number[] | ((response: ResponseSummary) => boolean) | undefined;
}

/** batch with a spool: what the spool held when it opened (the `'spool'` event, before any request). */
export interface SpoolOpened {
  dir: string;
  /** Bytes of records an earlier run left, sent first. */
  bytesStored: number;
  /** With `spool.input`: bytes of that input the spool already took (sent or kept); 0 for an input it had not seen. */
  inputBytes: number;
}

/** batch: where the idempotency key goes; at least one of the two. */
export interface IdempotencyKeyPlacement {
  /** The header that carries the key (default `'Idempotency-Key'`), or `false` for none. */
  header?: string | false | undefined;
  /** A query parameter that carries the key too (ClickHouse: `'insert_deduplication_token'`). */
  query?: string | undefined;
}

/** batch and tus: got's retry options, read by the library's retry engine, and a budget in time. */
export type RetryOption = Partial<RetryOptions> & {
  /**
   * ms during which failures in a row without progress are retried (default
   * 120 000; `Infinity`: until acknowledged). Named after p-retry's
   * `maxRetryTime` and curl's `--retry-max-time`.
   */
  maxRetryTime?: number | undefined;
};

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

/** The tus name (`Upload-Checksum`, `Tus-Checksum-Algorithm`) of a `digest` algorithm. */
export type TusChecksumAlgorithm = 'sha256' | 'sha512';

/** tus with `digest`: what the server does with it (the tus checksum extension). */
export interface TusChecksum {
  /** The `digest` algorithm by its tus name. */
  algorithm: TusChecksumAlgorithm;
  /**
   * True: the server lists `checksum` in `Tus-Extension` and the algorithm in
   * `Tus-Checksum-Algorithm`, so every PATCH carries `Upload-Checksum` and the
   * server checks it. False: it does not, no header is sent, nothing is verified.
   */
  verified: boolean;
  /** PATCHes the server answered 460 Checksum Mismatch: each was resent from the server's offset. */
  mismatches: number;
}

/** azure-blob: the blob's properties and the per-block checksum. */
export interface AzureBlobSettings {
  /** The blob's `Content-Type` (`x-ms-blob-content-type`; Azure's default is `application/octet-stream`). */
  contentType?: string | undefined;
  /** The blob's metadata (`x-ms-meta-<name>`): names are C# identifiers, values ASCII. */
  metadata?: Record<string, string> | undefined;
  /**
   * Each block's checksum, verified by the service before it stores the block:
   * `'md5'` (`Content-MD5`, the default), `'crc64'` (`x-ms-content-crc64`) or `false`.
   */
  checksum?: AzureBlobChecksum | false | undefined;
}

/** azure-blob: the per-block checksum's algorithm. */
export type AzureBlobChecksum = 'md5' | 'crc64';

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

/** s3: AWS credentials, as the AWS SDK's credential providers resolve them. */
export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** Temporary credentials (STS): sent as `X-Amz-Security-Token`. */
  sessionToken?: string | undefined;
  /** When temporary credentials run out: a provider function is asked again shortly before. */
  expiration?: Date | undefined;
}

/** s3: the checksum S3 verifies for each part (`x-amz-checksum-*`). */
export type S3ChecksumAlgorithm = 'crc32' | 'crc32c' | 'sha256';

/** s3: the `s3` option. */
export interface S3Settings {
  /**
   * The credentials, or a function resolving them (an AWS SDK credential
   * provider such as `fromNodeProviderChain()`), asked before each request
   * and again when they expire. Never shown in an error or a log.
   */
  credentials: S3Credentials | (() => Promise<S3Credentials>);
  /** The signing region (default: read from an `s3.<region>.amazonaws.com` host, else `us-east-1`). */
  region?: string | undefined;
  /**
   * The checksum S3 verifies for every part and small object (default
   * `'crc32'`, as the AWS SDKs send), or `false` for none: the payload is
   * then signed by its SHA-256, so S3 still checks the bytes.
   */
  checksum?: S3ChecksumAlgorithm | false | undefined;
  /** The object's `Content-Type`. */
  contentType?: string | undefined;
  /** User metadata, sent as `x-amz-meta-<name>` headers. */
  metadata?: Record<string, string> | undefined;
}

/** Where an upload stands on the server, as a `HEAD` reports it. */
export interface TusOffset {
  /** `Upload-Offset`: bytes the server has stored. Read your source from here on. */
  offset: number;
  /** `Upload-Length`, when the server knows the total (absent while the length is deferred). */
  length?: number;
}

/** Options of `fetchTusOffset`. */
export interface FetchTusOffsetOptions {
  /** The got instance for auth, agents, TLS and timeouts (default: got). */
  got?: GotInstance | undefined;
  /** Extra request headers (auth, say). */
  headers?: Record<string, string> | undefined;
  /**
   * Retries of the `HEAD`, by the library's retry engine as in tus mode
   * (got's names, the same defaults; `{ limit: 0 }`: one attempt). got's
   * own retries are not used.
   */
  retry?: RetryOption | undefined;
  /** Stops the request, or the wait before a retry, with an `AbortError`. */
  signal?: AbortSignal | undefined;
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

/** What a finished `uploadFile` reports. */
export interface UploadFileResult extends ProgressSnapshot {
  /** The server's final answer (batch: the last batch's; undefined for an empty batch upload). */
  response: UploadResponse | undefined;
  /** tus: the server's offset this upload started from (0 unless resuming with `uploadUrl`). */
  startOffset: number;
}

/** What `uploadFile` returns: the promise of its result, which also tells how the upload stands while it runs. */
export interface UploadFilePromise extends Promise<UploadFileResult> {
  /**
   * True while the upload waits on the network rather than on the file: a
   * buffer the transport still holds (stream: not yet taken whole by the
   * socket; batch and tus: not yet answered), the final answer once the
   * file has ended, or (tus with `uploadUrl`) the server's offset. False
   * while a read waits (a quiet pipe), and once the promise has settled.
   * The Writable's `waitingOnNetwork`, for a watchdog.
   */
  readonly waitingOnNetwork: boolean;
}

// What the library reports.

/** The figures carried by every `'progress'` event and every error. */
export interface ProgressSnapshot {
  /** Bytes accepted by `write()`. */
  bytesWritten: number;
  /** Bytes handed to the socket: an upper bound on what the server received. */
  bytesSent: number;
  /** Bytes the server confirmed with a 2xx (batch: the contiguous prefix). */
  bytesAcknowledged: number;
  /** batch: batches handed to the network (retries not counted twice). */
  batchesSent?: number;
  /** batch: batches the server answered 2xx. */
  batchesAcknowledged?: number;
  /** tus: the upload URL, once the server created it. */
  uploadUrl?: string;
  /** batch with `concurrency: 'auto'`: the concurrency limit now (a fixed `concurrency` is the option itself). */
  concurrency?: number;
  /** batch with a spool: bytes the spool held from an earlier run when it opened (sent first). */
  bytesFromSpool?: number;
  /** tus with `digest`: whether the server verifies each PATCH, known before the first one. */
  checksum?: TusChecksum;
}

/** The server's answer, as exposed on `upload.response` and the `'response'` event. */
export interface UploadResponse {
  statusCode: number;
  headers: IncomingHttpHeaders;
  /** The response body as text (at most `RESPONSE_BODY_LIMIT` bytes are kept). */
  body: string;
}

/** batch: one acknowledged batch, as reported by the `'batch'` event. */
export interface BatchReport {
  sequence: number;
  offset: number;
  /** Uncompressed bytes in the batch. */
  size: number;
  statusCode: number;
  /** 1 when the first attempt succeeded (a split batch: the attempts of all its pieces). */
  attempts: number;
  /** Present when a 413 split the batch: the requests it went out as, each acknowledged. */
  pieces?: number;
}

/** Where in the upload an error happened, when the mode knows it. */
export interface ErrorPosition {
  /** batch: 0-based sequence number of the batch that failed. */
  sequence?: number;
  /** batch: byte offset of the failed batch; tus: the server's last known offset. */
  offset?: number;
  /** tus: the upload URL to resume from. */
  uploadUrl?: string;
  /** s3 and azure-blob: the multipart upload (S3's UploadId; Azure's block id nonce). */
  uploadId?: string;
  /** s3 and azure-blob: the numbers of the parts the server holds, ascending. */
  partsStored?: number[];
}

/** What an error keeps of a response: never its headers (they may set cookies). */
export interface ResponseSummary {
  statusCode: number;
  statusMessage?: string;
  /** The start of the body, at most `BODY_SNIPPET_LIMIT` bytes, as text. */
  body: string;
}

/** Why the spool set a batch aside: its answer was in `spool.setAsideOn`, or its refusal ended this many runs. */
export type SetAsideReason = 'refused' | 'failed-runs';

/** What `fstat` compares to tell a file changed: its size, timestamps and identity. */
export type FileChangeField = 'size' | 'mtime' | 'ctime' | 'ino' | 'dev';

/** What an error says of the spool when the upload failed or was stopped (`error.spool`): the data is still there. */
export interface SpoolState {
  dir: string;
  /** Bytes of records still in the spool, resent by the next start on the same directory. */
  bytesStored: number;
  /** A batch refused permanently was moved here (`<dir>/rejected/<key>.bin`; its response is in the `.json` beside it). */
  setAside?: string;
  /** Why it was set aside: its answer is in `setAsideOn`, or its refusal ended 3 runs. */
  setAsideReason?: SetAsideReason;
}
