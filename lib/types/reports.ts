import type { IncomingHttpHeaders } from 'node:http';

/**
 * What the library hands back: progress, answers, batch reports, what an
 * error says of where the upload stood, and what `uploadFile` returns.
 */

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

/** batch with a spool: what the spool held when it opened (the `'spool'` event, before any request). */
export interface SpoolOpened {
  dir: string;
  /** Bytes of records an earlier run left, sent first. */
  bytesStored: number;
  /** With `spool.input`: bytes of that input the spool already took (sent or kept); 0 for an input it had not seen. */
  inputBytes: number;
}

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

/** Why the spool set a batch aside: its answer was in `spool.setAsideOn`, or its refusal ended this many runs. */
export type SetAsideReason = 'refused' | 'failed-runs';

/** What `fstat` compares to tell a file changed: its size, timestamps and identity. */
export type FileChangeField = 'size' | 'mtime' | 'ctime' | 'ino' | 'dev';

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
