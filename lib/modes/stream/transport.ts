import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { Request as GotRequest, Response as GotResponse } from 'got';
import { EarlyResponseError, type BufferedHttpWritableError } from '../../errors.js';
import type { StreamOptions } from './options.js';
import type { UploadContext } from '../../upload-context.js';
import { BodyCollector, errorForAnswer, errorForNetwork, isSuccess, summarizeAnswer } from '../../http/answers.js';
import { readAnswerBeforeWriteError } from '../../http/early-answer.js';
import { ContinueGate } from '../../http/expect-continue.js';
import type { SendInfo, Transport, TransportReports } from '../transport.js';
import type { UploadResponse } from '../../types.js';

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
  readonly #options: StreamOptions;
  readonly #context: UploadContext;
  readonly #reports: TransportReports;
  #request?: GotRequest;
  /** With `Expect: 100-continue`: the body waits behind it. */
  #continue?: ContinueGate;
  #answer?: Answer;
  #bytesHanded = 0;
  /** send() was called: with a ContinueGate, end() goes behind the writes waiting on it (its callbacks run in order). */
  #hasBody = false;
  /** The request has a connection: bytes handed over from now on may reach the server. */
  #connected = false;
  /** Bytes handed over before the connection was up: counted as sent once it is (a refused connection sent nothing). */
  #handedBeforeConnection = 0;
  #bodyEnded = false;
  /** The upload is over (failed or aborted): nothing more is written or reported. */
  #over = false;
  #settled?: UploadResponse;
  #onSettled?: (response: UploadResponse) => void;

  constructor(options: StreamOptions, context: UploadContext, reports: TransportReports) {
    this.#options = options;
    this.#context = context;
    this.#reports = reports;
  }

  send(bytes: Buffer, _info: SendInfo): Promise<void> {
    const request = this.#open();
    this.#hasBody = true;
    // Settles only on success: a failure is reported through #fail, once.
    return new Promise((resolve) => {
      const write = (): void => {
        if (this.#over) return;
        this.#bytesHanded += bytes.length;
        // Counted when handed over, not when the write's callback fires: the
        // server may read part of a buffer before its callback (HTTP/2 fires it
        // only once flow control let the last DATA frame out; HTTP/1.1 once the
        // kernel took the last byte), and bytesSent must stay an upper bound
        // on what the server received.
        if (this.#connected) this.#reports.sent(bytes.length);
        else this.#handedBeforeConnection += bytes.length;
        // got passes this callback to the socket (or HTTP/2 stream) write: once
        // it fires the bytes are out of our hands, and the buffer may be reused.
        request.write(bytes, (error?: Error | null) => {
          if (error) {
            this.#onError(error);
            return;
          }
          this.#onConnected(); // a completed write proves it, whatever events the client library gives
          resolve();
        });
      };
      if (this.#continue) void this.#continue.opened.then(write);
      else write();
    });
  }

  end(totalBytes: number): Promise<UploadResponse> {
    const request = this.#open();
    this.#bodyEnded = true;
    return new Promise((resolve) => {
      this.#onSettled = (response) => {
        this.#reports.acknowledged(0, totalBytes);
        resolve(response);
      };
      if (this.#settled) this.#onSettled(this.#settled);
      // After the body, if one is waiting for 100 Continue; an empty body has nothing to wait for.
      if (this.#continue && this.#hasBody) void this.#continue.opened.then(() => request.end());
      else request.end();
    });
  }

  abort(): void {
    if (this.#settled) return; // a finished request keeps its keep-alive socket
    this.#over = true;
    this.#continue?.shut();
    this.#request?.destroy();
  }

  #open(): GotRequest {
    if (this.#request) return this.#request;
    const { url, method, headers, contentLength } = this.#options;
    const { got } = this.#context;
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
    readAnswerBeforeWriteError(request);
    if (this.#options.expectsContinue) {
      const gate = new ContinueGate(this.#options.expectContinueTimeout);
      request.once('continue', () => gate.open());
      this.#continue = gate;
    }
    request.once('socket', (socket: Socket) => {
      if (socket.connecting) socket.once('connect', () => this.#onConnected());
      else this.#onConnected();
    });
    request.on('response', (response: GotResponse) => this.#onResponse(response));
    request.on('data', (chunk: Buffer) => this.#answer?.body.add(chunk));
    request.on('end', () => this.#onAnswerComplete());
    request.on('error', (error: Error) => this.#onError(error));
    this.#request = request;
    return request;
  }

  #onConnected(): void {
    if (this.#connected) return;
    this.#connected = true;
    if (this.#handedBeforeConnection > 0) this.#reports.sent(this.#handedBeforeConnection);
    this.#handedBeforeConnection = 0;
  }

  #onResponse(response: GotResponse): void {
    // A final answer before 100 Continue: the body waiting for it never goes.
    this.#continue?.shut();
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
    if (!answer || this.#over) return;
    if (!isSuccess(answer.statusCode) || answer.early) {
      this.#fail(this.#answerError(answer));
      return;
    }
    const response: UploadResponse = { statusCode: answer.statusCode, headers: answer.headers, body: answer.body.text() };
    this.#settled = response;
    this.#onSettled?.(response);
  }

  #onError(error: Error): void {
    if (this.#settled) return;
    // After an early answer (413, 401, …) the socket error that follows is
    // only its echo: report the status the server gave, not EPIPE. After an
    // answer to the whole body, the error broke off that answer (a cut, a timeout).
    const answer = this.#answer;
    this.#fail(answer?.early ? this.#answerError(answer) : errorForNetwork(error, this.#reports.progress(), {}, answer !== undefined));
  }

  #answerError(answer: Answer): BufferedHttpWritableError {
    const summary = summarizeAnswer({ ...answer, body: answer.body.text() }, this.#context);
    const progress = this.#reports.progress();
    if (isSuccess(answer.statusCode)) return new EarlyResponseError(summary, progress);
    return errorForAnswer(summary, answer.headers, this.#options.url, progress);
  }

  /** The one way out: the request ends and the core hears of the failure, once. */
  #fail(error: Error): void {
    if (this.#over) return;
    this.#over = true;
    this.#continue?.shut();
    this.#request?.destroy();
    this.#reports.fail(error);
  }
}
