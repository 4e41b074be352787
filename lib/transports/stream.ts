import type { IncomingHttpHeaders } from 'node:http';
import type { Request as GotRequest, Response as GotResponse } from 'got';
import { EarlyResponseError, type BufferedHttpWritableError } from '../errors.js';
import type { ResolvedOptions } from '../options.js';
import { BodyCollector, errorForAnswer, errorForNetwork, isSuccess, summarizeAnswer } from './answers.js';
import type { SendInfo, Transport, TransportContext, UploadResponse } from './transport.js';

interface Answer {
  statusCode: number;
  statusMessage?: string;
  headers: IncomingHttpHeaders;
  body: BodyCollector;
  /** The answer came before the server could have had the whole body. */
  early: boolean;
}

/**
 * `stream` mode: one HTTP request whose body is every flushed buffer, in
 * order, each one HTTP chunk (`Transfer-Encoding: chunked`), or a sized body
 * when `contentLength` is known. A streamed body cannot be replayed, so this
 * transport never retries and never follows a redirect: it fails and says how
 * far it got.
 */
export class StreamTransport implements Transport {
  readonly maxInFlight = 1;
  readonly keepsWritesWhole = false;
  readonly checksTotalLength = false;
  readonly #options: ResolvedOptions;
  readonly #context: TransportContext;
  #request?: GotRequest;
  #answer?: Answer;
  #bytesHanded = 0;
  #bodyEnded = false;
  #failure?: Error;
  #settled?: UploadResponse;
  /** Callbacks of `send()`/`end()` calls still waiting; all are rejected on failure. */
  readonly #waiting = new Set<(error: Error) => void>();
  #onSettled?: (response: UploadResponse) => void;

  constructor(options: ResolvedOptions, context: TransportContext) {
    this.#options = options;
    this.#context = context;
  }

  send(bytes: Buffer, _info: SendInfo): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    const request = this.#open();
    this.#bytesHanded += bytes.length;
    return new Promise((resolve, reject) => {
      this.#waiting.add(reject);
      // got passes this callback to the socket write: it fires once the
      // kernel took the bytes, and only then may the buffer be reused.
      request.write(bytes, (error?: Error | null) => {
        this.#waiting.delete(reject);
        if (error) {
          reject(this.#failure ?? this.#networkError(error));
          return;
        }
        const { progress } = this.#context;
        progress.bytesSent += bytes.length;
        progress.changed();
        resolve();
      });
    });
  }

  end(totalBytes: number): Promise<UploadResponse> {
    if (this.#failure) return Promise.reject(this.#failure);
    const request = this.#open();
    this.#bodyEnded = true;
    return new Promise((resolve, reject) => {
      this.#waiting.add(reject);
      this.#onSettled = (response) => {
        this.#waiting.delete(reject);
        const { progress } = this.#context;
        progress.bytesAcknowledged = totalBytes;
        progress.changed();
        resolve(response);
      };
      if (this.#settled) this.#onSettled(this.#settled);
      request.end();
    });
  }

  abort(): void {
    if (this.#settled) return; // a finished request keeps its keep-alive socket
    if (!this.#failure) this.#failure = new Error('Upload aborted');
    this.#rejectWaiting(this.#failure);
    this.#request?.destroy();
  }

  #open(): GotRequest {
    if (this.#request) return this.#request;
    const { got, url, method, headers, contentLength } = this.#options;
    const requestHeaders = contentLength === undefined ? headers : { ...headers, 'content-length': String(contentLength) };
    const request = got.stream(url, {
      method,
      headers: requestHeaders,
      // Owned by the library whatever the instance says: we read the status
      // ourselves, a redirect would silently drop the body, and a streamed
      // body cannot be replayed by a retry.
      throwHttpErrors: false,
      followRedirect: false,
      retry: { limit: 0 },
    });
    request.on('response', (response: GotResponse) => this.#onResponse(response));
    request.on('data', (chunk: Buffer) => this.#answer?.body.add(chunk));
    request.on('end', () => this.#onAnswerComplete());
    request.on('error', (error: Error) => this.#onError(error));
    this.#request = request;
    return request;
  }

  #onResponse(response: GotResponse): void {
    const complete = this.#bodyEnded || (this.#options.contentLength !== undefined && this.#bytesHanded === this.#options.contentLength);
    this.#answer = {
      statusCode: response.statusCode,
      headers: response.headers,
      body: new BodyCollector(),
      early: !complete,
    };
    if (response.statusMessage) this.#answer.statusMessage = response.statusMessage;
  }

  #onAnswerComplete(): void {
    const answer = this.#answer;
    if (!answer || this.#failure) return;
    if (!isSuccess(answer.statusCode) || answer.early) {
      this.#fail(this.#answerError(answer));
      return;
    }
    const response: UploadResponse = { statusCode: answer.statusCode, headers: answer.headers, body: answer.body.text() };
    this.#settled = response;
    this.#context.response(response);
    this.#onSettled?.(response);
  }

  #onError(error: Error): void {
    if (this.#settled) return;
    // After an early answer (413, 401, …) the socket error that follows is
    // only its echo: report the status the server gave, not EPIPE.
    this.#fail(this.#answer ? this.#answerError(this.#answer) : this.#networkError(error));
  }

  #answerError(answer: Answer): BufferedHttpWritableError {
    const summary = summarizeAnswer({ ...answer, body: answer.body.text() }, this.#options);
    const progress = this.#context.progress.snapshot();
    if (isSuccess(answer.statusCode)) return new EarlyResponseError(summary, progress);
    return errorForAnswer(summary, answer.headers, this.#options.url, progress);
  }

  #networkError(error: Error): BufferedHttpWritableError {
    return errorForNetwork(error, this.#context.progress.snapshot());
  }

  #fail(error: Error): void {
    if (this.#failure) return;
    this.#failure = error;
    this.#rejectWaiting(error);
    this.#request?.destroy();
    this.#context.fail(error);
  }

  #rejectWaiting(error: Error): void {
    for (const reject of this.#waiting) reject(error);
    this.#waiting.clear();
  }
}
