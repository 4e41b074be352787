import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { Request as GotRequest, Response as GotResponse } from 'got';
import { EarlyResponseError, type BufferedHttpWritableError } from '../../errors.js';
import type { StreamOptions } from './options.js';
import type { UploadContext } from '../../upload-context.js';
import { openRequestStream } from '../../http/attempt.js';
import { BodyCollector } from '../../http/body-cap.js';
import { errorForNetwork, errorForResponse, summarizeResponse } from '../../http/responses.js';
import { isSuccess } from '../../http/status.js';
import type { ContinueGate } from '../../http/expect-continue.js';
import type { SendInfo, Transport, TransportReports } from '../transport.js';
import type { UploadResponse } from '../../types.js';

/** The server's response while its body comes in. */
interface IncomingResponse {
  statusCode: number;
  statusMessage?: string;
  headers: IncomingHttpHeaders;
  body: BodyCollector;
  /** The response came before the server could have had the whole body. */
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
  #response?: IncomingResponse;
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
    const { url, method, headers, contentLength, expectsContinue, expectContinueTimeout } = this.#options;
    const { got } = this.#context;
    const requestHeaders = contentLength === undefined ? headers : { ...headers, 'content-length': String(contentLength) };
    const { request, gate } = openRequestStream(got, {
      method,
      url,
      headers: requestHeaders,
      expectContinueTimeout: expectsContinue ? expectContinueTimeout : undefined,
    });
    this.#continue = gate;
    request.once('socket', (socket: Socket) => {
      if (socket.connecting) socket.once('connect', () => this.#onConnected());
      else this.#onConnected();
    });
    request.on('response', (response: GotResponse) => this.#onResponse(response));
    request.on('data', (chunk: Buffer) => this.#response?.body.add(chunk));
    request.on('end', () => this.#onResponseEnd());
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
    const complete = this.#bodyEnded || (this.#options.contentLength !== undefined && this.#bytesHanded === this.#options.contentLength);
    this.#response = {
      statusCode: response.statusCode,
      headers: response.headers,
      body: new BodyCollector(),
      early: !complete,
    };
    if (response.statusMessage) this.#response.statusMessage = response.statusMessage;
  }

  #onResponseEnd(): void {
    const response = this.#response;
    if (!response || this.#over) return;
    if (!isSuccess(response.statusCode) || response.early) {
      this.#fail(this.#responseError(response));
      return;
    }
    const settled: UploadResponse = { statusCode: response.statusCode, headers: response.headers, body: response.body.text() };
    this.#settled = settled;
    this.#onSettled?.(settled);
  }

  #onError(error: Error): void {
    if (this.#settled) return;
    // After an early response (a refusal at header time) the socket error
    // that follows is only its echo: report the status the server gave, not
    // EPIPE. After a response to the whole body, the error broke off that
    // response (a cut, a timeout).
    const response = this.#response;
    this.#fail(response?.early ? this.#responseError(response) : errorForNetwork(error, this.#reports.progress(), {}, response !== undefined));
  }

  #responseError(response: IncomingResponse): BufferedHttpWritableError {
    const summary = summarizeResponse({ ...response, body: response.body.text() }, this.#context);
    const progress = this.#reports.progress();
    if (isSuccess(response.statusCode)) return new EarlyResponseError(summary, progress);
    return errorForResponse(summary, response.headers, this.#options.url, progress);
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
