import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { CancelableRequest, Response as GotResponse } from 'got';
import { BODY_SNIPPET_LIMIT, type BufferedHttpWritableError } from '../errors.js';
import type { BatchOptions } from '../options.js';
import { abortError } from '../abort.js';
import { Backoff, Retrier, type FailedAttempt } from '../retry.js';
import { BodyCollector, errorForAnswer, errorForNetwork, isSuccess, summarizeAnswer } from './answers.js';
import { readAnswerBeforeWriteError } from './early-answer.js';
import { failed, type SendInfo, type Transport, type TransportReports, type UploadResponse } from './transport.js';

const gzipAsync = promisify(gzip);

/** One batch between `send()` and its 2xx (or the end of the upload). */
interface Batch {
  readonly sequence: number;
  readonly offset: number;
  /** Uncompressed bytes. */
  readonly size: number;
  /** `Idempotency-Key`: the same on every attempt, and after a restart when a spool fixed it. */
  readonly key: string;
  request?: CancelableRequest<GotResponse<Buffer>>;
  readonly backoff: Backoff;
}

/**
 * `batch` mode: every buffer is its own request with `Content-Length`,
 * `Batch-Sequence`, `Batch-Offset` and an `Idempotency-Key` that stays the
 * same on every retry, so a server can drop duplicates. Up to `concurrency`
 * batches are in flight. got makes one attempt at a time; the retry engine
 * decides whether and when the same Buffer is sent again, and `send()`
 * resolves only on the batch's 2xx: only then may the core reuse the buffer.
 *
 * A batch counts as sent when its first attempt starts (retries are not
 * counted again), in uncompressed bytes.
 */
export class BatchTransport implements Transport {
  readonly maxInFlight: number;
  readonly keepsWritesWhole = true;
  readonly checksTotalLength = false;
  readonly #options: BatchOptions;
  readonly #reports: TransportReports;
  /** Idempotency keys are `<this>-<sequence>` (unless a spool fixed them): unique per upload and per batch, fixed across retries. */
  readonly #keyPrefix = randomUUID();
  /** Batches not yet acknowledged, to cancel on failure or abort. */
  readonly #inFlight = new Set<Batch>();
  /** Every `send()` not yet settled, for `end()`. */
  readonly #pending = new Set<Promise<void>>();
  #lastResponse?: UploadResponse;
  /** Failed or aborted: nothing more goes out, the server must not see batches past a gap. */
  #over = false;

  constructor(options: BatchOptions, reports: TransportReports) {
    this.#options = options;
    this.#reports = reports;
    this.maxInFlight = options.concurrency;
  }

  send(bytes: Buffer, info: SendInfo): Promise<void> {
    const key = info.key ?? `${this.#keyPrefix}-${info.sequence}`;
    const batch: Batch = { sequence: info.sequence, offset: info.offset, size: bytes.length, key, backoff: new Backoff() };
    const delivery = failed(this.#deliver(batch, bytes), (error) => this.#fail(error));
    this.#pending.add(delivery);
    void delivery.then(() => this.#pending.delete(delivery));
    return delivery;
  }

  async end(): Promise<UploadResponse | undefined> {
    // Deliveries only ever resolve; after a failure the core is gone and this never settles.
    while (this.#pending.size > 0) await Promise.all(this.#pending);
    return this.#lastResponse;
  }

  abort(): void {
    if (this.#over) return;
    this.#over = true;
    this.#cancelInFlight(abortError());
  }

  async #deliver(batch: Batch, bytes: Buffer): Promise<void> {
    this.#inFlight.add(batch);
    try {
      // Compressed once per batch: every retry resends the same compressed Buffer.
      const body = this.#options.compress === 'gzip' ? await gzipAsync(bytes) : bytes;
      const retrier = new Retrier(this.#options.retry);
      for (;;) {
        if (this.#over) throw abortError();
        retrier.started();
        if (retrier.attempts === 1) this.#reports.batchSent(batch.size);
        const attempt = await this.#attempt(batch, body);
        if ('response' in attempt) {
          this.#acknowledge(batch, attempt.response, retrier.attempts);
          return;
        }
        const decision = await retrier.decide(attempt);
        if (!decision.retry) throw decision.error;
        await batch.backoff.wait(decision.delay);
      }
    } finally {
      this.#inFlight.delete(batch);
    }
  }

  /** One request: a 2xx answer, or what failed about it. */
  async #attempt(batch: Batch, body: Buffer): Promise<{ response: GotResponse<Buffer> } | FailedAttempt> {
    batch.request = this.#request(batch, body);
    let response: GotResponse<Buffer>;
    try {
      response = await batch.request;
    } catch (error) {
      if (this.#over) throw abortError(error);
      return { error: errorForNetwork(error, this.#reports.progress(), position(batch)), code: (error as { code?: string }).code };
    }
    if (isSuccess(response.statusCode)) return { response };
    return { error: this.#answerError(batch, response), statusCode: response.statusCode, retryAfter: response.headers['retry-after'] };
  }

  #request(batch: Batch, body: Buffer): CancelableRequest<GotResponse<Buffer>> {
    const { got, url, method, headers, compress } = this.#options;
    const request = got(url, {
      method,
      body,
      headers: {
        ...headers,
        'Content-Length': String(body.length),
        'Batch-Sequence': String(batch.sequence),
        'Batch-Offset': String(batch.offset),
        // Fixed here, once per batch, not in a hook: beforeRequest hooks run on every attempt.
        'Idempotency-Key': batch.key,
        ...(compress ? { 'Content-Encoding': compress } : {}),
      },
      // Owned by the library whatever the got instance says: we read every
      // status ourselves, the retry engine sees every attempt, and a redirect
      // would resend the batch somewhere we were not asked to.
      retry: { limit: 0 },
      throwHttpErrors: false,
      followRedirect: false,
      responseType: 'buffer',
      resolveBodyOnly: false,
    });
    readAnswerBeforeWriteError(request);
    return request;
  }

  #acknowledge(batch: Batch, response: GotResponse<Buffer>, attempts: number): void {
    const body = new BodyCollector();
    body.add(response.rawBody);
    const answer: UploadResponse = { statusCode: response.statusCode, headers: response.headers, body: body.text() };
    this.#lastResponse = answer;
    const report = { sequence: batch.sequence, offset: batch.offset, size: batch.size, statusCode: response.statusCode, attempts };
    this.#reports.batchAcknowledged(report, answer);
  }

  #answerError(batch: Batch, response: GotResponse<Buffer>): BufferedHttpWritableError {
    const snippet = new BodyCollector(BODY_SNIPPET_LIMIT);
    snippet.add(response.rawBody);
    const summary = summarizeAnswer({ statusCode: response.statusCode, statusMessage: response.statusMessage, body: snippet.text() }, this.#options);
    return errorForAnswer(summary, response.headers, this.#options.url, this.#reports.progress(), position(batch));
  }

  /** The first failure ends the upload: later batches are cancelled and never sent. */
  #fail(error: Error): void {
    if (this.#over) return;
    this.#over = true;
    this.#cancelInFlight(error);
    this.#reports.fail(error);
  }

  #cancelInFlight(reason: Error): void {
    for (const batch of this.#inFlight) {
      batch.request?.cancel();
      batch.backoff.cancel(reason);
    }
    this.#inFlight.clear();
  }
}

function position(batch: Batch): { sequence: number; offset: number } {
  return { sequence: batch.sequence, offset: batch.offset };
}
