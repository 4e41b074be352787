import type { Hash } from 'node:crypto';
import type { ClientRequest, IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { Request as GotRequest, Response as GotResponse } from 'got';
import { EarlyResponseError, ProxyError, type BufferedHttpWritableError } from '../../errors.js';
import type { StreamOptions } from './options.js';
import type { UploadContext } from '../../upload-context.js';
import { openRequestStream } from '../../http/attempt.js';
import { BodyCollector } from '../../http/body-cap.js';
import { errorForNetwork, errorForResponse, summarizeResponse } from '../../http/responses.js';
import { isSuccess } from '../../http/status.js';
import { contentDigestField, createDigest } from '../../http/digest.js';
import type { ContinueGate } from '../../http/expect-continue.js';
import type { SendInfo, Transport, TransportReports } from '../transport.js';
import type { DigestAlgorithm, UploadResponse } from '../../types.js';

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
 *
 * With `digest`, each buffer is hashed as it is handed to the request, and
 * the chunked body ends with `Content-Digest` (and `Repr-Digest` when no
 * content coding applies) as trailers announced by `Trailer` (RFC 9530 §2-3,
 * RFC 9110 §6.5); `uploadFile` may know the digest before the first byte
 * (`knownDigest`) and send it as headers instead.
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
  /** With `digest` and no `knownDigest`: the hash of every byte handed over, in order. */
  #hash?: Hash;
  /** The digest fields the trailer carries (Content-Digest, and Repr-Digest without a content coding). */
  #trailerFields: string[] = [];
  /** got's ClientRequest, once it exists: trailers are added to it. */
  #clientRequest?: ClientRequest;

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
        // Hashed as handed over, in the order sent: no second read of the data.
        this.#hash?.update(bytes);
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
      const endBody = (): void => {
        this.#addDigestTrailers();
        request.end();
      };
      // After the body, if one is waiting for 100 Continue; an empty body has nothing to wait for.
      if (this.#continue && this.#hasBody) void this.#continue.opened.then(endBody);
      else endBody();
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
    const sized = contentLength === undefined ? headers : { ...headers, 'content-length': String(contentLength) };
    const { request, gate } = openRequestStream(got, {
      method,
      url,
      headers: { ...sized, ...this.#digestHeaders(headers) },
      expectContinueTimeout: expectsContinue ? expectContinueTimeout : undefined,
    });
    this.#continue = gate;
    request.once('socket', (socket: Socket) => {
      if (socket.connecting) socket.once('connect', () => this.#onConnected());
      else this.#onConnected();
    });
    request.once('request', (clientRequest: ClientRequest) => (this.#clientRequest = clientRequest));
    request.on('response', (response: GotResponse) => this.#onResponse(response));
    request.on('data', (chunk: Buffer) => this.#response?.body.add(chunk));
    request.on('end', () => this.#onResponseEnd());
    request.on('error', (error: Error) => this.#onError(error));
    this.#request = request;
    return request;
  }

  /**
   * The digest headers of the request: the fields themselves when the digest
   * is known before the first byte, else the `Trailer` announcing them.
   * `Repr-Digest` only where no content coding applies: then the content is
   * the representation (RFC 9530 §3); with the caller's Content-Encoding the
   * representation's bytes are not the ones hashed.
   */
  #digestHeaders(headers: Record<string, string>): Record<string, string> {
    const { digest, knownDigest } = this.#options;
    if (!digest) return {};
    const coded = Object.keys(headers).some((name) => name.toLowerCase() === 'content-encoding');
    const fields = coded ? ['Content-Digest'] : ['Content-Digest', 'Repr-Digest'];
    if (knownDigest) {
      const value = contentDigestField(digest, knownDigest);
      return Object.fromEntries(fields.map((field) => [field, value]));
    }
    this.#hash = createDigest(digest);
    this.#trailerFields = fields;
    return { Trailer: fields.join(', ') };
  }

  /** The digest of everything handed over, as trailers, just before the body ends. */
  #addDigestTrailers(): void {
    if (!this.#hash) return;
    const value = contentDigestField(this.#options.digest as DigestAlgorithm, this.#hash.digest());
    const trailers = Object.fromEntries(this.#trailerFields.map((field) => [field, value]));
    // got creates its ClientRequest asynchronously; it ends the request only after 'request'.
    const add = (clientRequest: ClientRequest): void => {
      // http2-wrapper's request (got's http2 option) has no request trailers: the digest cannot go.
      if (typeof clientRequest.addTrailers === 'function') clientRequest.addTrailers(trailers);
    };
    if (this.#clientRequest) add(this.#clientRequest);
    else this.#request!.once('request', add);
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
    // An answer seen outranks the socket error that follows it: a refusal (any
    // non-2xx) or an early 2xx is reported by its status, not as EPIPE (a
    // server answering at header time may close while bytes handed to got are
    // still on their way). A proxy's refusal, told by the error, says more
    // than its status. After a 2xx to the whole body, the error broke off that
    // response (a cut, a timeout).
    const response = this.#response;
    const failure = errorForNetwork(error, this.#reports.progress(), {}, response !== undefined);
    const refused = response !== undefined && !(failure instanceof ProxyError) && (response.early || !isSuccess(response.statusCode));
    this.#fail(refused ? this.#responseError(response) : failure);
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
