import type { Response as GotResponse } from 'got';
import { ContentLengthError, ProtocolError, ResumeGapError, RetryAfterError, type BufferedHttpWritableError, type ErrorPosition } from '../errors.js';
import type { ResolvedOptions } from '../options.js';
import { headersForOrigin, redactUrl } from '../redact.js';
import { RESPONSE_BODY_LIMIT, errorForAnswer, errorForNetwork, isSuccess, summarizeAnswer } from './answers.js';
import type { SendInfo, Transport, TransportContext, UploadResponse } from './transport.js';
import { backoffDelay } from './retry-policy.js';
import { TUS_VERSION, encodeMetadata, readTusOffset, retryAfterMs, type TusOffset } from './tus-protocol.js';

export { fetchTusOffset, type FetchTusOffsetOptions, type TusOffset } from './tus-protocol.js';

/** `tus` mode: the tus 1.0 resumable upload protocol. */
export function createTusTransport(options: ResolvedOptions, context: TransportContext): Transport {
  return new TusTransport(options, context);
}

/** A failed attempt worth repeating after a `HEAD`; carries the error to report if the retries run out. */
class Retryable extends Error {
  readonly error: BufferedHttpWritableError;
  /** The server's `Retry-After`, in ms. */
  readonly delay: number | undefined;

  constructor(error: BufferedHttpWritableError, delay?: number) {
    super(error.message);
    this.error = error;
    this.delay = delay;
  }
}

/**
 * Statuses after which asking `HEAD` and resending can succeed: 409 is the
 * protocol's "your offset is stale" (tus 1.0 §PATCH), 423 a busy upload lock,
 * 408/429/5xx a server that may do better later. 501/505 never will.
 */
function isRetryableStatus(statusCode: number): boolean {
  if ([408, 409, 423, 429].includes(statusCode)) return true;
  return statusCode >= 500 && statusCode !== 501 && statusCode !== 505;
}

/**
 * tus 1.0 core + creation + creation-defer-length. One buffer in flight, one
 * `PATCH` per buffer. After a failure the transport asks the server's offset
 * with `HEAD` and resends from there out of the buffer it still holds (a cut
 * PATCH usually leaves part of its bytes stored). `send()` resolves only when
 * the server's offset has passed the end of the buffer.
 *
 * Offsets inside are absolute (in the whole upload); the progress counters
 * are relative to this writable's first byte, which is `#base` when resuming.
 */
export class TusTransport implements Transport {
  readonly maxInFlight = 1;
  readonly keepsWritesWhole = false;
  readonly checksTotalLength = true;
  readonly #options: ResolvedOptions;
  readonly #context: TransportContext;
  readonly #metadata: string | undefined;
  #uploadUrl: URL | undefined;
  #opened: Promise<void> | undefined;
  /** Absolute offset of this writable's first byte: 0, or the server's offset when resuming. */
  #base = 0;
  /** The server's offset as it last told us. */
  #serverOffset = 0;
  /** The whole upload's length, when known before `end()`: `contentLength` or the server's `Upload-Length`. */
  #length: number | undefined;
  /** Bytes given to `end()`: fixes the length of a deferred upload. */
  #endedWith: number | undefined;
  /** The server knows the length (creation, a PATCH that declared it, or as `HEAD` reports). */
  #lengthDeclared = false;
  /** The send in flight, settled either way; `end()` waits for it. */
  #lastSend: Promise<void> = Promise.resolve();
  #lastAnswer: UploadResponse | undefined;
  /** This transport's own failure: the upload is over and can be resumed. */
  #failure: Error | undefined;
  #aborted = false;
  #finished = false;
  #inFlight: { cancel(): void } | undefined;
  #backoff: { timer: NodeJS.Timeout; reject(error: Error): void } | undefined;

  constructor(options: ResolvedOptions, context: TransportContext) {
    this.#options = options;
    this.#context = context;
    // Checked at construction: a bad key is the caller's error, not the server's.
    this.#metadata = options.metadata && Object.keys(options.metadata).length > 0 ? encodeMetadata(options.metadata) : undefined;
    this.#length = options.contentLength;
  }

  send(bytes: Buffer, info: SendInfo): Promise<void> {
    const sent = this.#run(async () => {
      await this.#open();
      const start = this.#base + info.offset;
      const end = start + bytes.length;
      const length = this.#totalLength();
      if (length !== undefined && end > length) throw new ContentLengthError(length, end, this.#context.progress.snapshot());
      // The core dispatches the last buffer and calls end() in the same turn:
      // waiting one turn lets this PATCH know it is the last one and declare
      // Upload-Length itself, saving an empty final PATCH (tus §creation-defer-length).
      await new Promise((resolve) => setImmediate(resolve));
      await this.#deliver(bytes, start);
    });
    this.#lastSend = sent.then(
      () => {},
      () => {},
    );
    return sent;
  }

  end(totalBytes: number): Promise<UploadResponse | undefined> {
    this.#endedWith = totalBytes;
    return this.#run(async () => {
      await this.#open();
      await this.#lastSend;
      if (this.#failure) throw this.#failure;
      const total = this.#base + totalBytes;
      if (this.#length !== undefined && this.#length !== total) {
        // Resuming: the server (or contentLength) fixed a length these bytes do not reach.
        throw new ContentLengthError(this.#length, total, this.#context.progress.snapshot());
      }
      // Nothing to send unless the server still waits for the length (an
      // empty upload, or a total that is a multiple of highWaterMark).
      await this.#deliver(Buffer.alloc(0), total);
      this.#finished = true;
      // #open() left an answer (creation's or HEAD's), and every PATCH replaces it.
      const answer = this.#lastAnswer!;
      this.#context.response(answer);
      return answer;
    });
  }

  abort(): void {
    if (this.#aborted || this.#finished) return;
    this.#aborted = true;
    this.#inFlight?.cancel();
    if (this.#backoff) {
      clearTimeout(this.#backoff.timer);
      this.#backoff.reject(new Error('Upload aborted'));
    }
    // Only a caller's abort terminates (tus §termination); after our own failure
    // the upload stays on the server so it can be resumed.
    if (this.#options.deleteOnAbort && this.#uploadUrl && !this.#failure) this.#terminate(this.#uploadUrl);
  }

  /** Runs one send/end; its error becomes the upload's failure (unless the caller aborted). */
  async #run<T>(operation: () => Promise<T>): Promise<T> {
    if (this.#failure) throw this.#failure;
    try {
      return await operation();
    } catch (error) {
      if (this.#aborted) throw new Error('Upload aborted', { cause: error });
      this.#failure ??= error as Error;
      throw error;
    }
  }

  /** Creates the upload (tus §creation), or learns where an existing one stands. Once. */
  #open(): Promise<void> {
    this.#opened ??= this.#options.uploadUrl ? this.#resume(this.#options.uploadUrl) : this.#create();
    return this.#opened;
  }

  async #create(): Promise<void> {
    const headers: Record<string, string> = {};
    if (this.#length === undefined) headers['upload-defer-length'] = '1';
    else headers['upload-length'] = String(this.#length);
    if (this.#metadata !== undefined) headers['upload-metadata'] = this.#metadata;
    // A repeated POST may leave an empty upload behind on the server; that is
    // the price of not failing on the first hiccup.
    const response = await this.#retrying(async () => {
      const answer = await this.#request('POST', this.#options.url, headers);
      if (!isSuccess(answer.statusCode)) throw this.#answerError(answer);
      return answer;
    });
    const location = response.headers.location;
    let url: URL | undefined;
    try {
      url = location ? new URL(location, this.#options.url) : undefined;
    } catch {
      url = undefined;
    }
    if (!url) throw new ProtocolError(`Creation answer ${response.statusCode} without a valid Location`, this.#context.progress.snapshot());
    this.#setUploadUrl(url);
    this.#lengthDeclared = this.#length !== undefined;
    this.#lastAnswer = toUploadResponse(response);
  }

  async #resume(url: URL): Promise<void> {
    this.#setUploadUrl(url);
    const state = await this.#retrying(() => this.#head());
    this.#base = state.offset;
    this.#serverOffset = state.offset;
    if (state.length !== undefined) {
      if (this.#length !== undefined && this.#length !== state.length) {
        throw new ProtocolError(`contentLength ${this.#length} differs from the Upload-Length ${state.length} the server holds for this upload`, this.#context.progress.snapshot(), this.#position());
      }
      this.#length = state.length;
      this.#lengthDeclared = true;
    }
  }

  /**
   * Delivers `bytes`, the upload's bytes from `start` on: PATCH from the
   * server's offset, and after a failure HEAD then PATCH the rest, until the
   * server's offset is the end (and the length is declared, for the last one).
   */
  async #deliver(bytes: Buffer, start: number): Promise<void> {
    const end = start + bytes.length;
    this.#checkWindow(this.#serverOffset, start, end);
    const { limit } = this.#options.retry;
    let failures = 0;
    let stale = false;
    for (;;) {
      const before = this.#serverOffset;
      try {
        if (stale) {
          // Never resend blindly: a cut PATCH may have stored part of its bytes,
          // or declared the length (a repeated Upload-Length is refused).
          const state = await this.#head();
          this.#checkWindow(state.offset, start, end);
          if (state.length !== undefined) this.#lengthDeclared = true;
          this.#acknowledge(state.offset);
          stale = false;
        }
        if (this.#serverOffset === end && !this.#declaresLength(end)) return;
        await this.#patch(bytes, start, end);
      } catch (error) {
        if (!(error instanceof Retryable)) throw error;
        stale = true;
        // retry.limit counts failures without progress: a long upload over a
        // flaky link is not failed by the sum of its hiccups.
        if (this.#serverOffset > before) failures = 0;
        if (++failures > limit) throw error.error;
        await this.#wait(error.delay ?? backoffDelay(failures, this.#options.retry.backoffLimit));
        continue;
      }
      if (this.#serverOffset > before) failures = 0;
    }
  }

  /** One PATCH from the server's offset to `end` (tus §PATCH). */
  async #patch(bytes: Buffer, start: number, end: number): Promise<void> {
    const from = this.#serverOffset;
    const headers: Record<string, string> = {
      'upload-offset': String(from),
      'content-type': 'application/offset+octet-stream',
    };
    const declaring = this.#declaresLength(end);
    if (declaring) headers['upload-length'] = String(end);
    const { progress } = this.#context;
    progress.bytesSent = Math.max(progress.bytesSent, end - this.#base);
    const answer = await this.#request('PATCH', this.#uploadUrl!, headers, bytes.subarray(from - start));
    if (!isSuccess(answer.statusCode)) throw this.#answerError(answer);
    const offset = readTusOffset(answer.headers)?.offset;
    if (offset === undefined) throw new ProtocolError(`PATCH answer ${answer.statusCode} without a valid Upload-Offset`, progress.snapshot(), this.#position());
    this.#checkWindow(offset, start, end);
    if (declaring) this.#lengthDeclared = true;
    this.#lastAnswer = toUploadResponse(answer);
    this.#acknowledge(offset);
    if (offset === from && end > from) {
      // A 2xx that stored nothing: count it as a failure so it cannot loop forever.
      throw new Retryable(new ProtocolError(`PATCH at offset ${from} was answered ${answer.statusCode} without storing any byte`, progress.snapshot(), this.#position()));
    }
  }

  /** Where the server stands (tus §HEAD). */
  async #head(): Promise<TusOffset> {
    const answer = await this.#request('HEAD', this.#uploadUrl!, {});
    if (!isSuccess(answer.statusCode)) throw this.#answerError(answer);
    const state = readTusOffset(answer.headers);
    if (!state) throw new ProtocolError(`HEAD answer ${answer.statusCode} without a valid Upload-Offset`, this.#context.progress.snapshot(), this.#position());
    this.#lastAnswer = toUploadResponse(answer);
    return state;
  }

  /** Repeats `operation` after retryable failures, up to `retry.limit` in a row (creation and resume). */
  async #retrying<T>(operation: () => Promise<T>): Promise<T> {
    const { limit } = this.#options.retry;
    for (let failures = 1; ; failures++) {
      try {
        return await operation();
      } catch (error) {
        if (!(error instanceof Retryable)) throw error;
        if (failures > limit) throw error.error;
        await this.#wait(error.delay ?? backoffDelay(failures, this.#options.retry.backoffLimit));
      }
    }
  }

  /**
   * One request through the caller's got instance. The library owns the
   * status handling, redirects and retries: a got retry of a PATCH would
   * resend with a stale Upload-Offset.
   */
  async #request(method: 'POST' | 'PATCH' | 'HEAD', url: URL, headers: Record<string, string>, body?: Buffer): Promise<GotResponse<string>> {
    if (this.#aborted) throw new Error('Upload aborted');
    const request = this.#options.got(url, {
      method,
      headers: this.#headers(url, headers),
      ...(body ? { body } : {}),
      throwHttpErrors: false,
      followRedirect: false,
      retry: { limit: 0 },
      resolveBodyOnly: false,
      responseType: 'text',
    });
    this.#inFlight = request;
    try {
      return await request;
    } catch (error) {
      if (this.#aborted) throw new Error('Upload aborted', { cause: error });
      const failure = errorForNetwork(error, this.#context.progress.snapshot(), this.#position());
      // Only a transient network error (got's `retry.errorCodes`: reset, refused,
      // timed out, …) is worth a HEAD and a resend; a refused certificate never heals.
      throw this.#isTransient(error) ? new Retryable(failure) : failure;
    } finally {
      this.#inFlight = undefined;
    }
  }

  /** The error codes got would retry: `retry.errorCodes`, else the got instance's own list. */
  #isTransient(error: unknown): boolean {
    const codes = this.#options.retry.errorCodes ?? this.#options.got.defaults.options.retry.errorCodes ?? [];
    const code = (error as { code?: unknown } | null)?.code;
    return typeof code === 'string' && codes.includes(code);
  }

  /** Every request carries the caller's headers and Tus-Resumable (tus 1.0 §Tus-Resumable). */
  #headers(url: URL, extra: Record<string, string>): Record<string, string | undefined> {
    // A creation may answer a Location on another origin (a storage host):
    // credentials meant for the endpoint never follow it there.
    return headersForOrigin({ ...this.#options.headers, 'tus-resumable': TUS_VERSION, ...extra }, this.#options.url, url);
  }

  /** The typed error of a non-2xx answer, wrapped as `Retryable` when another attempt may succeed. */
  #answerError(answer: GotResponse<string>): Error {
    const summary = summarizeAnswer(answer, this.#options);
    const progress = this.#context.progress.snapshot();
    const error = errorForAnswer(summary, answer.headers, new URL(answer.url), progress, this.#position());
    if (!isRetryableStatus(answer.statusCode)) return error;
    const header = answer.headers['retry-after'];
    const delay = retryAfterMs(header);
    const cap = this.#options.retry.maxRetryAfter;
    if (delay !== undefined && delay > cap) return new RetryAfterError(summary, delay / 1000, cap, progress, this.#position());
    // Retry-After: 0 means at once; a timer of 1 ms keeps the loop asynchronous.
    return new Retryable(error, delay === undefined ? undefined : Math.max(1, delay));
  }

  /** The server's offset must lie in what we still hold, [start, end]; anything else would be a guess. */
  #checkWindow(offset: number, start: number, end: number): void {
    if (offset < start || offset > end) {
      // The error's offset is the server's claim: that is where a resume would have to start.
      const { uploadUrl } = this.#position();
      throw new ResumeGapError(offset, start, end, this.#context.progress.snapshot(), { uploadUrl });
    }
  }

  /** True when a PATCH ending at `end` must carry Upload-Length: it is the last and the server waits for the length. */
  #declaresLength(end: number): boolean {
    return !this.#lengthDeclared && this.#totalLength() === end;
  }

  /** The whole upload's length once known: declared up front, held by the server, or fixed by `end()`. */
  #totalLength(): number | undefined {
    if (this.#length !== undefined) return this.#length;
    return this.#endedWith === undefined ? undefined : this.#base + this.#endedWith;
  }

  #acknowledge(offset: number): void {
    this.#serverOffset = offset;
    const { progress } = this.#context;
    progress.bytesAcknowledged = offset - this.#base;
    progress.bytesSent = Math.max(progress.bytesSent, progress.bytesAcknowledged);
    progress.changed();
  }

  #setUploadUrl(url: URL): void {
    this.#uploadUrl = url;
    this.#context.progress.uploadUrl = redactUrl(url);
    this.#context.progress.changed();
  }

  /** What an error says about where to resume. */
  #position(): ErrorPosition {
    const position: ErrorPosition = { offset: this.#serverOffset };
    if (this.#uploadUrl) position.uploadUrl = redactUrl(this.#uploadUrl);
    return position;
  }


  #wait(ms: number): Promise<void> {
    if (this.#aborted) return Promise.reject(new Error('Upload aborted'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#backoff = undefined;
        resolve();
      }, ms);
      this.#backoff = { timer, reject };
    });
  }

  /** tus §termination, asked for with `deleteOnAbort`. Best effort: the caller has already given up on the upload. */
  #terminate(url: URL): void {
    this.#options
      .got(url, { method: 'DELETE', headers: this.#headers(url, {}), throwHttpErrors: false, followRedirect: false, retry: { limit: 0 } })
      .catch(() => {});
  }
}

function toUploadResponse(answer: GotResponse<string>): UploadResponse {
  const body = answer.body.length > RESPONSE_BODY_LIMIT ? answer.body.slice(0, RESPONSE_BODY_LIMIT) : answer.body;
  return { statusCode: answer.statusCode, headers: answer.headers, body };
}
