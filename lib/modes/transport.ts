import { asError } from '../errors.js';
import type { UploadContext } from '../upload-context.js';
import type { BatchReport, ErrorPosition, ProgressSnapshot, TusChecksum, UploadResponse } from '../types.js';

/** Where a buffer stands in the whole upload. */
export interface SendInfo {
  /** 0-based position of this buffer among all buffers sent. */
  sequence: number;
  /** Byte offset of the buffer's first byte in the whole upload. */
  offset: number;
  /** True when no byte follows: `end()` comes next and brings nothing more (tus declares the length with it). */
  last: boolean;
  /** batch: the length of each write in the buffer, in order (records are never split; a refused batch may be split between them). */
  records?: number[];
  /** batch with a spool: the `Idempotency-Key` fixed in the spool (an upload id kept across restarts, and the sequence). */
  key?: string;
}

/**
 * What a transport reports to the core. Transports report facts; the core
 * keeps the counters and emits every event (`'progress'`, `'response'`,
 * `'batch'`), so each figure has one owner.
 */
export interface TransportReports {
  /** `bytes` more of this upload were handed to the socket (an upper bound on what the server has). */
  sent(bytes: number): void;
  /** batch: a batch of `size` bytes was handed to the network for the first time (retries do not count). */
  batchSent(size: number): void;
  /** The server holds this upload's bytes `[offset, offset + size)`: a 2xx, or a tus offset that moved on. */
  acknowledged(offset: number, size: number): void;
  /** batch: one batch was acknowledged with this response. */
  batchAcknowledged(report: BatchReport, response: UploadResponse): void;
  /** tus: the upload's URL, credentials removed. */
  uploadUrl(url: string): void;
  /** tus with `digest`: whether the server verifies each PATCH, and how many it found corrupted so far. */
  checksum(state: TusChecksum): void;
  /**
   * batch with `concurrency: 'auto'`: the concurrency limit is now `limit`.
   * The transport reports the starting limit when it is built (no event),
   * then every change (a `'progress'` event).
   */
  concurrencyChanged(limit: number): void;
  /** The figures an error must carry, as they stand now. */
  progress(): ProgressSnapshot;
  /**
   * The one route by which a failure reaches the core: the upload is over.
   * The first call counts; later ones (the socket error that follows an
   * response, say) are ignored.
   */
  fail(error: Error): void;
}

/**
 * One delivery protocol. It knows HTTP and nothing of stream internals; the
 * core knows streams and nothing of HTTP.
 *
 * `send()` and `end()` only ever resolve: a failure goes to
 * `reports.fail()`, and the promise of the call it ended never settles (the
 * core is destroyed by then and waits on nothing). `failed()` wraps that rule.
 */
export interface Transport {
  /** How many `send()` calls may be unresolved at once. */
  readonly maxInFlight: number;
  /** True when one `write()` must never be split across two sends (records stay whole). */
  readonly keepsWritesWhole: boolean;
  /**
   * True when `end()` itself checks the total against `contentLength`, so the
   * core must not: tus, where contentLength is the whole upload's length even
   * when a resumed writable carries only the rest of it.
   */
  readonly checksTotalLength: boolean;
  /**
   * True when every send but the last must be a whole buffer: S3 refuses a
   * part under 5 MiB unless it is the last. A large write then tops up the
   * buffer before it goes, and `flush()` sends no partial buffer.
   */
  readonly sendsFullBuffers?: boolean;
  /** Delivers `bytes`. Resolves when the transport no longer reads them: the caller may reuse the memory. */
  send(bytes: Buffer, info: SendInfo): Promise<void>;
  /**
   * No more sends: resolves once every byte is acknowledged, with the final
   * response (undefined when the mode made no request, as batch does for an
   * empty upload). The one carrier of the final response.
   */
  end(totalBytes: number): Promise<UploadResponse | undefined>;
  /** Ends in-flight requests and timers at once; the upload is over. Safe to call more than once. */
  abort(): void;
  /** Where the upload stands, for an error raised outside the transport (an abort): tus, its upload URL and the server's offset. */
  position?(): ErrorPosition;
}

/**
 * Builds the transport of an upload; the core is handed one rather than
 * importing any. May load the mode's code first (a promise).
 */
export type TransportFactory<Options> = (options: Options, context: UploadContext, reports: TransportReports) => Transport | Promise<Transport>;

const NEVER = new Promise<never>(() => {});

/**
 * For `send()`/`end()`: the work's failure goes to `fail` (the one route) and
 * the returned promise never settles, so no caller handles it a second time.
 */
export function failed<T>(work: Promise<T>, fail: (error: Error) => void): Promise<T> {
  return work.catch((error: unknown) => {
    fail(asError(error));
    return NEVER;
  });
}
