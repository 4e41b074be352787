import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { CancelableRequest, Response as GotResponse, RetryObject, RetryOptions } from 'got';
import { BODY_SNIPPET_LIMIT, RetryAfterError, type BufferedHttpWritableError } from '../errors.js';
import type { ResolvedOptions } from '../options.js';
import { BodyCollector, errorForAnswer, errorForNetwork, isSuccess, summarizeAnswer } from './answers.js';
import { batchRetryOptions, decideRetry } from './retry-policy.js';
import type { SendInfo, Transport, TransportContext, UploadResponse } from './transport.js';

const gzipAsync = promisify(gzip);

/** One batch between `send()` and its 2xx (or the end of the upload). */
interface Batch {
  readonly sequence: number;
  readonly offset: number;
  /** Uncompressed bytes. */
  readonly size: number;
  request?: CancelableRequest<GotResponse<Buffer>>;
  /** Seconds the server asked to wait beyond `retry.maxRetryAfter`, when that stopped the retries. */
  retryAfterTooLong?: number;
}

/** `batch` mode: one request per buffer. */
export function createBatchTransport(options: ResolvedOptions, context: TransportContext): Transport {
  return new BatchTransport(options, context);
}

/**
 * `batch` mode: every buffer is its own request with `Content-Length`,
 * `Batch-Sequence`, `Batch-Offset` and an `Idempotency-Key` that stays the
 * same on every retry, so a server can drop duplicates. Up to `concurrency`
 * batches are in flight; got retries each one (see retry-policy.ts), resending
 * the same Buffer, and `send()` resolves only on the batch's 2xx: only then
 * may the core reuse the buffer.
 *
 * Progress: `bytesSent`/`batchesSent` count a batch when it is handed to got
 * (its first attempt starts; retries are not counted again), in uncompressed
 * bytes. `bytesAcknowledged` is the contiguous prefix of acknowledged batches:
 * with `concurrency` > 1 a later batch may be acknowledged first.
 */
class BatchTransport implements Transport {
  readonly maxInFlight: number;
  readonly keepsWritesWhole = true;
  readonly checksTotalLength = false;
  readonly #options: ResolvedOptions;
  readonly #context: TransportContext;
  /** Idempotency keys are `<this>-<sequence>`: unique per upload and per batch, fixed across retries. */
  readonly #keyPrefix = randomUUID();
  readonly #userCalculateDelay: RetryOptions['calculateDelay'] | undefined;
  /** Batches with a request under way, to cancel on failure or abort. */
  readonly #inFlight = new Set<Batch>();
  /** Every `send()` not yet settled, for `end()`. */
  readonly #pending = new Set<Promise<void>>();
  /** Acknowledged batches beyond the contiguous prefix: offset → size. */
  readonly #acknowledgedAhead = new Map<number, number>();
  #lastResponse?: UploadResponse;
  #failure?: Error;

  constructor(options: ResolvedOptions, context: TransportContext) {
    this.#options = options;
    this.#context = context;
    this.maxInFlight = options.concurrency;
    this.#userCalculateDelay = options.retry.calculateDelay;
    context.progress.batchesSent = 0;
    context.progress.batchesAcknowledged = 0;
  }

  send(bytes: Buffer, info: SendInfo): Promise<void> {
    // After a failure nothing more goes out: the server must not see batches past a gap.
    if (this.#failure) return Promise.reject(this.#failure);
    const batch: Batch = { sequence: info.sequence, offset: info.offset, size: bytes.length };
    const delivery = this.#deliver(batch, bytes);
    this.#pending.add(delivery);
    const forget = (): void => {
      this.#pending.delete(delivery);
    };
    delivery.then(forget, forget);
    return delivery;
  }

  async end(): Promise<UploadResponse | undefined> {
    while (this.#pending.size > 0) await Promise.all(this.#pending);
    if (this.#failure) throw this.#failure;
    return this.#lastResponse;
  }

  abort(): void {
    this.#failure ??= new Error('Upload aborted');
    this.#cancelInFlight();
  }

  async #deliver(batch: Batch, bytes: Buffer): Promise<void> {
    try {
      // Compressed once per batch: every retry resends the same compressed Buffer.
      const body = this.#options.compress === 'gzip' ? await gzipAsync(bytes) : bytes;
      if (this.#failure) throw this.#failure;
      batch.request = this.#request(batch, body);
      this.#inFlight.add(batch);
      const { progress } = this.#context;
      progress.bytesSent += batch.size;
      progress.batchesSent! += 1;
      progress.changed();
      const response = await batch.request;
      this.#acknowledge(batch, response);
    } catch (error) {
      throw this.#fail(batch, error);
    } finally {
      this.#inFlight.delete(batch);
    }
  }

  #request(batch: Batch, body: Buffer): CancelableRequest<GotResponse<Buffer>> {
    const { got, url, method, headers, compress, retry } = this.#options;
    return got(url, {
      method,
      body,
      headers: {
        ...headers,
        'Content-Length': String(body.length),
        'Batch-Sequence': String(batch.sequence),
        'Batch-Offset': String(batch.offset),
        // Fixed here, once per batch, not in a hook: beforeRequest hooks run on every attempt.
        'Idempotency-Key': `${this.#keyPrefix}-${batch.sequence}`,
        ...(compress ? { 'Content-Encoding': compress } : {}),
      },
      retry: batchRetryOptions(retry, (retryObject) => this.#retryDelay(batch, retryObject)),
      // Owned by the library whatever the got instance says: we read every
      // status ourselves (got still retries non-2xx answers in its promise
      // API), and a redirect would resend the batch somewhere we were not asked to.
      throwHttpErrors: false,
      followRedirect: false,
      responseType: 'buffer',
      resolveBodyOnly: false,
    });
  }

  /** got's `calculateDelay` for one batch: 0 means no further attempt. */
  async #retryDelay(batch: Batch, retryObject: RetryObject): Promise<number> {
    if (this.#failure) return 0;
    const verdict = decideRetry(retryObject);
    let delay = verdict.retry ? verdict.delay : 0;
    if (this.#userCalculateDelay) delay = await this.#userCalculateDelay({ ...retryObject, computedValue: delay });
    if (delay <= 0 && !verdict.retry && verdict.retryAfterTooLong !== undefined) {
      batch.retryAfterTooLong = verdict.retryAfterTooLong;
    }
    return this.#failure ? 0 : delay;
  }

  /** A 2xx settles the batch; any other final answer is a permanent failure. */
  #acknowledge(batch: Batch, response: GotResponse<Buffer>): void {
    if (this.#failure) throw this.#failure;
    if (!isSuccess(response.statusCode)) throw this.#answerError(batch, response);

    const { progress } = this.#context;
    this.#acknowledgedAhead.set(batch.offset, batch.size);
    let prefix = progress.bytesAcknowledged;
    for (let size = this.#acknowledgedAhead.get(prefix); size !== undefined; size = this.#acknowledgedAhead.get(prefix)) {
      this.#acknowledgedAhead.delete(prefix);
      prefix += size;
    }
    progress.bytesAcknowledged = prefix;
    progress.batchesAcknowledged! += 1;
    progress.changed();

    const body = new BodyCollector();
    body.add(response.rawBody);
    const answer: UploadResponse = { statusCode: response.statusCode, headers: response.headers, body: body.text() };
    this.#lastResponse = answer;
    this.#context.batch({
      sequence: batch.sequence,
      offset: batch.offset,
      size: batch.size,
      statusCode: response.statusCode,
      attempts: response.retryCount + 1,
    });
    this.#context.response(answer);
  }

  #answerError(batch: Batch, response: GotResponse<Buffer>): BufferedHttpWritableError {
    const snippet = new BodyCollector(BODY_SNIPPET_LIMIT);
    snippet.add(response.rawBody);
    const summary = summarizeAnswer({ statusCode: response.statusCode, statusMessage: response.statusMessage, body: snippet.text() }, this.#options);
    const progress = this.#context.progress.snapshot();
    const position = { sequence: batch.sequence, offset: batch.offset };
    if (batch.retryAfterTooLong !== undefined) {
      const cap = this.#options.retry.maxRetryAfter;
      return new RetryAfterError(summary, batch.retryAfterTooLong, cap, progress, position);
    }
    return errorForAnswer(summary, response.headers, this.#options.url, progress, position);
  }

  /** The first failure ends the upload: later batches are cancelled and never sent. */
  #fail(batch: Batch, error: unknown): Error {
    if (this.#failure) return this.#failure;
    const failure = errorForNetwork(error, this.#context.progress.snapshot(), { sequence: batch.sequence, offset: batch.offset });
    this.#failure = failure;
    this.#cancelInFlight();
    this.#context.fail(failure);
    return failure;
  }

  #cancelInFlight(): void {
    // Cancelling also clears a retry timer got may be waiting on.
    for (const batch of this.#inFlight) batch.request?.cancel();
    this.#inFlight.clear();
  }
}
