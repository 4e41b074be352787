import type { IncomingHttpHeaders } from 'node:http';
import type { Progress } from '../progress.js';

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
  /** 1 when the first attempt succeeded. */
  attempts: number;
}

/** Where a buffer stands in the whole upload. */
export interface SendInfo {
  /** 0-based position of this buffer among all buffers sent. */
  sequence: number;
  /** Byte offset of the buffer's first byte in the whole upload. */
  offset: number;
}

/** What the Writable core gives a transport: counters to update and a way to report. */
export interface TransportContext {
  /** Shared counters: the transport updates `bytesSent`/`bytesAcknowledged` (and mode extras), then calls `changed()`. */
  readonly progress: Progress;
  /** Reports the server's answer (`'response'` event). */
  response(response: UploadResponse): void;
  /** batch: reports one acknowledged batch (`'batch'` event). */
  batch(report: BatchReport): void;
  /**
   * Reports a failure that happened outside any pending `send()`/`end()`
   * (an early answer while the producer is idle, say). The upload is over.
   */
  fail(error: Error): void;
}

/**
 * One delivery protocol. It knows HTTP and nothing of stream internals; the
 * core knows streams and nothing of HTTP.
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
   * Delivers `bytes`. Resolves when the transport no longer reads `bytes`
   * (the caller may then reuse the memory), rejects when the upload failed.
   */
  send(bytes: Buffer, info: SendInfo): Promise<void>;
  /**
   * No more sends: resolves once every byte is acknowledged, with the final
   * response (undefined when the mode made no request, as batch does for an
   * empty upload).
   */
  end(totalBytes: number): Promise<UploadResponse | undefined>;
  /** Ends in-flight requests and timers at once; the upload is over. Safe to call more than once. */
  abort(): void;
}
