import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { Response as GotResponse } from 'got';
import { createConcurrencyLimiter, type AdaptiveConcurrency, type LimitChange } from '../../http/adaptive-concurrency.js';
import { splitBatch } from './split.js';
import { keyFields } from './idempotency-key.js';
import { classifyAttempt, type AttemptKind, type ConcurrencyLimiter } from '../../http/concurrency-limiter.js';
import {
  publishBatchAcknowledged,
  publishBatchRetried,
  publishBatchSent,
  publishBatchSplit,
  publishConcurrencyChanged,
  type DiagnosticsUpload,
} from '../../diagnostics.js';
import type { BatchOptions } from './options.js';
import type { UploadContext } from '../../upload-context.js';
import { abortError } from '../../http/abort.js';
import { attempt } from '../../http/attempt.js';
import { overloadBaseDelay, type FailedAttempt, type RetrierOptions } from '../../http/retry.js';
import { AttemptFailed, retrying, type DecidedRetry } from '../../http/retry-loop.js';
import { UploadPause } from '../../http/upload-pause.js';
import { toUploadResponse } from '../../http/responses.js';
import { contentDigestField, digestOf } from '../../http/digest.js';
import { asksToSplit, isOverload } from '../../http/status.js';
import { failed, type SendInfo, type Transport, type TransportReports } from '../transport.js';
import type { UploadResponse } from '../../types.js';
import { HttpStatusError } from '../../errors.js';

const gzipAsync = promisify(gzip);

/** What a batch's pieces add up to, reported once when the last one is acknowledged. */
interface Parent {
  readonly sequence: number;
  readonly offset: number;
  readonly size: number;
  attempts: number;
  pieces: number;
}

/** One request's worth of bytes: a whole batch, or a piece of one a 413 split (same sequence, own offset and key). */
interface Piece {
  readonly parent: Parent;
  readonly sequence: number;
  readonly offset: number;
  /** Uncompressed bytes. */
  readonly size: number;
  /** `Idempotency-Key`: the same on every attempt, and after a restart when a spool fixed it (pieces: `<key>.0`, `<key>.1`). */
  readonly key: string;
  /** A view of the buffer the batch was sent from. */
  readonly bytes: Buffer;
  /** Length of each write in `bytes`: a 413 may split the piece between them. */
  readonly records: ArrayLike<number>;
}

/**
 * `batch` mode: every buffer is its own request with `Content-Length`,
 * `Batch-Sequence`, `Batch-Offset` and an `Idempotency-Key` that stays the
 * same on every retry, so a server can drop duplicates. got makes one attempt
 * at a time; the retry engine decides whether and when the same Buffer is
 * sent again, and `send()` resolves only on the batch's 2xx: only then may
 * the core reuse the buffer.
 *
 * Every attempt (first or retry) waits for the upload-wide pause a
 * `Retry-After` set, then for a slot of the concurrency limiter (fixed, or
 * adaptive with `concurrency: 'auto'`, oldest batch first), and reports its
 * outcome to the limiter. The core hands up to the limiter's `max` batches
 * at once; the limiter decides how many of them are on the wire.
 *
 * A batch of several writes answered 413 is split between writes and the
 * halves sent as requests of their own, recursively (batch-split.ts).
 *
 * A batch counts as sent when its first attempt starts (retries and pieces
 * are not counted again), in uncompressed bytes; as acknowledged when all its
 * pieces are.
 */
export class BatchTransport implements Transport {
  readonly maxInFlight: number;
  readonly keepsWritesWhole = true;
  readonly checksTotalLength = false;
  readonly #options: BatchOptions;
  readonly #context: UploadContext;
  readonly #reports: TransportReports;
  readonly #limiter: ConcurrencyLimiter;
  /** One clock for `Retry-After`: the whole upload waits, not one batch. */
  readonly #pause = new UploadPause();
  /** Idempotency keys are `<this>-<sequence>` (unless a spool fixed them): unique per upload and per batch, fixed across retries. */
  readonly #keyPrefix = randomUUID();
  /** Aborted on failure or abort: every request and every backoff ends at once. */
  readonly #cancel = new AbortController();
  /** 'auto': the short first backoff after an overload refusal follows the RTT baseline. */
  readonly #retryPolicy: RetrierOptions;
  /** Every `send()` not yet settled, for `end()`. */
  readonly #pending = new Set<Promise<void>>();
  #lastResponse?: UploadResponse;
  /** Failed or aborted: nothing more goes out, the server must not see batches past a gap. */
  #over = false;

  constructor(options: BatchOptions, context: UploadContext, reports: TransportReports) {
    this.#options = options;
    this.#context = context;
    this.#reports = reports;
    this.#limiter = createConcurrencyLimiter(options.concurrency, { max: options.maxConcurrency, onChange: (change) => this.#limitChanged(change) });
    this.maxInFlight = this.#limiter.max;
    const limiter = this.#limiter;
    this.#retryPolicy = limiter.adaptive ? { overloadBaseDelay: () => overloadBaseDelay((limiter as AdaptiveConcurrency).baselineRttMs) } : {};
    if (this.#limiter.adaptive) reports.concurrencyChanged(this.#limiter.limit);
  }

  send(bytes: Buffer, info: SendInfo): Promise<void> {
    const parent: Parent = { sequence: info.sequence, offset: info.offset, size: bytes.length, attempts: 0, pieces: 0 };
    const key = info.key ?? `${this.#keyPrefix}-${info.sequence}`;
    const piece = this.#piece(parent, bytes, info.offset, key, info.records ?? [bytes.length]);
    const delivery = failed(this.#deliverBatch(piece), (error) => this.#fail(error));
    this.#pending.add(delivery);
    void delivery.then(() => this.#pending.delete(delivery));
    return delivery;
  }

  async end(): Promise<UploadResponse | undefined> {
    // Deliveries only ever resolve; after a failure the core is gone and this never settles.
    while (this.#pending.size > 0) await Promise.all(this.#pending);
    // Everything acknowledged: the pause holds no waiter, and no timer is left either way.
    this.#pause.close();
    this.#limiter.close();
    return this.#lastResponse;
  }

  abort(): void {
    if (this.#over) return;
    this.#over = true;
    this.#cancelInFlight(abortError());
  }

  async #deliverBatch(piece: Piece): Promise<void> {
    const response = await this.#deliver(piece);
    const { parent } = piece;
    const uploadResponse = toUploadResponse(response);
    this.#lastResponse = uploadResponse;
    const report = { sequence: parent.sequence, offset: parent.offset, size: parent.size, statusCode: response.statusCode, attempts: parent.attempts };
    this.#reports.batchAcknowledged(parent.pieces > 1 ? { ...report, pieces: parent.pieces } : report, uploadResponse);
  }

  /** Sends one piece until its 2xx (or those of the pieces a 413 split it into); resolves with the last 2xx. */
  async #deliver(piece: Piece): Promise<GotResponse<Buffer>> {
    // Compressed and digested once per piece: every retry resends the same Buffer with the same digest.
    const body = this.#options.compress === 'gzip' ? await gzipAsync(piece.bytes) : piece.bytes;
    const { digest } = this.#options;
    // RFC 9530 §2: the content as sent, after gzip.
    const contentDigest = digest ? contentDigestField(digest, digestOf(digest, body)) : undefined;
    return retrying(
      async (attempts) => {
        const { response, rttMs } = await this.#attemptInSlot(piece, body, contentDigest, attempts);
        this.#diagnostic((upload) => publishBatchAcknowledged(upload, piece, response.statusCode, attempts, rttMs));
        return response;
      },
      {
        settings: this.#options.retry,
        policy: this.#retryPolicy,
        signal: this.#cancel.signal,
        settle: (failure) => this.#split(piece, failure) ?? this.#setAsideAtOnce(failure),
        beforeRetry: (retry) => this.#beforeRetry(piece, retry),
      },
    );
  }

  /** A piece of several writes answered 413 goes out as two requests, recursively; a single write cannot be split. */
  #split(piece: Piece, failure: FailedAttempt): Promise<GotResponse<Buffer>> | undefined {
    if (!asksToSplit(failure.statusCode)) return undefined;
    const halves = splitBatch(piece);
    if (!halves) return undefined;
    this.#diagnostic((upload) => publishBatchSplit(upload, piece, failure.statusCode!, halves));
    // The parent goes out as one request fewer and two more.
    piece.parent.pieces--;
    const pieces = halves.map((half) => this.#piece(piece.parent, half.bytes, half.offset, half.key, half.records));
    return Promise.all(pieces.map((each) => this.#deliver(each))).then((responses) => responses[1]!);
  }

  /** An answer the spool's `setAsideOn` names is not retried: the run ends and the spool sets the batch aside. */
  #setAsideAtOnce(failure: FailedAttempt): Promise<never> | undefined {
    const { spool } = this.#options;
    if (!spool || !(failure.error instanceof HttpStatusError)) return undefined;
    const { statusCode, statusMessage, body } = failure.error;
    const response = statusMessage === undefined ? { statusCode, body } : { statusCode, statusMessage, body };
    return spool.setAsideOn(response) ? Promise.reject(failure.error) : undefined;
  }

  /** A `Retry-After` pauses the whole upload (every new attempt waits on one clock, this batch's first); any other wait is this batch's own. */
  #beforeRetry(piece: Piece, { failure, attempts, delay, reason: why, retryAfter }: DecidedRetry): Promise<void> | undefined {
    const reason = why === 'digest-mismatch' ? why : isOverload(failure.statusCode) ? 'overload' : 'failure';
    if (retryAfter === undefined) {
      this.#diagnostic((upload) => publishBatchRetried(upload, piece, attempts, reason, failure, delay, undefined));
      return undefined;
    }
    const paused = this.#pause.pauseForAndWait(delay);
    const pausedUntil = this.#pause.pausedUntil;
    this.#diagnostic((upload) => publishBatchRetried(upload, piece, attempts, reason, failure, delay, retryAfter, pausedUntil));
    return paused;
  }

  /** Waits for the pause and a slot, makes one attempt, reports its outcome to the limiter. */
  async #attemptInSlot(
    piece: Piece,
    body: Buffer,
    contentDigest: string | undefined,
    attempts: number,
  ): Promise<{ response: GotResponse<Buffer>; rttMs: number }> {
    const { signal } = this.#cancel;
    for (;;) {
      if (signal.aborted) throw abortError();
      await this.#pause.whenOpen();
      const token = await this.#limiter.acquire({ order: piece.sequence });
      // A Retry-After may have arrived while this one waited for its slot: no attempt starts during a pause.
      if (this.#pause.paused || signal.aborted) {
        this.#limiter.finished(token, { kind: 'neutral' });
        continue;
      }
      piece.parent.attempts++;
      if (piece.parent.attempts === 1) this.#reports.batchSent(piece.parent.size);
      this.#diagnostic((upload) => publishBatchSent(upload, piece, attempts, body.length, this.#limiter.limit, this.#limiter.inFlight));
      const started = performance.now();
      // Neutral unless the attempt ended in a response or a failure of its own: our cancel says nothing of the server.
      let kind: AttemptKind = 'neutral';
      let rttMs = 0;
      try {
        const response = await this.#request(piece, body, contentDigest);
        rttMs = requestRtt(response) ?? performance.now() - started;
        kind = classifyAttempt({ statusCode: response.statusCode });
        return { response, rttMs };
      } catch (error) {
        if (error instanceof AttemptFailed) {
          rttMs = performance.now() - started;
          kind = classifyAttempt(outcomeOf(error.attempt));
        }
        throw error;
      } finally {
        // Exactly once per token, on every path.
        this.#limiter.finished(token, { kind, rttMs: rttMs || performance.now() - started });
      }
    }
  }

  /** One request: a 2xx response, or `AttemptFailed`. */
  #request(piece: Piece, body: Buffer, contentDigest: string | undefined): Promise<GotResponse<Buffer>> {
    const { url, method, headers, compress, idempotencyKey } = this.#options;
    const { got } = this.#context;
    // Fixed here, once per piece, not in a hook: beforeRequest hooks run on every attempt.
    const key = keyFields(idempotencyKey, piece.key);
    const spec = {
      method,
      url,
      query: key.query,
      body,
      headers: {
        ...headers,
        'Content-Length': String(body.length),
        'Batch-Sequence': String(piece.sequence),
        'Batch-Offset': String(piece.offset),
        ...key.headers,
        ...(compress ? { 'Content-Encoding': compress } : {}),
        ...(contentDigest ? { 'Content-Digest': contentDigest } : {}),
      },
      signal: this.#cancel.signal,
    };
    return attempt(got, spec, { progress: () => this.#reports.progress(), position: () => position(piece), credentials: this.#context.credentials });
  }

  #piece(parent: Parent, bytes: Buffer, offset: number, key: string, records: ArrayLike<number>): Piece {
    parent.pieces++;
    return { parent, sequence: parent.sequence, offset, size: bytes.length, key, bytes, records };
  }

  #limitChanged(change: LimitChange): void {
    this.#reports.concurrencyChanged(change.limit);
    this.#diagnostic((upload) => publishConcurrencyChanged(upload, change));
  }

  /** Publishes once the writable exists (it always does by the first send). */
  #diagnostic(publish: (upload: DiagnosticsUpload) => void): void {
    const upload = this.#context.diagnostics.upload;
    if (upload) publish(upload);
  }

  /** The first failure ends the upload: later batches are cancelled and never sent. */
  #fail(error: Error): void {
    if (this.#over) return;
    this.#over = true;
    this.#cancelInFlight(error);
    this.#reports.fail(error);
  }

  #cancelInFlight(reason: Error): void {
    this.#cancel.abort(reason);
    this.#pause.close(reason);
    this.#limiter.close(reason);
  }
}

/** What the limiter is told of a failed attempt: its status, or got's error code when there was no response. */
function outcomeOf(failure: FailedAttempt): { statusCode?: number; errorCode?: string } {
  if (failure.statusCode !== undefined) return { statusCode: failure.statusCode };
  return failure.code === undefined ? {} : { errorCode: failure.code };
}

/**
 * The request's round trip on its connection (upload, wait for the first
 * byte, download), from got's timings: without waiting for a socket, DNS,
 * TCP and TLS. A new connection's setup and the first request's warm-up
 * are not the server's latency, and the adaptive limit's first baseline is
 * one window of one request: with them in it, the first windows were several
 * times the real round trip and the limit took that much longer to grow.
 */
function requestRtt(response: GotResponse<Buffer>): number | undefined {
  const { request, firstByte, download } = response.timings.phases;
  if (firstByte === undefined) return undefined;
  return (request ?? 0) + firstByte + (download ?? 0);
}

function position(piece: Piece): { sequence: number; offset: number } {
  return { sequence: piece.sequence, offset: piece.offset };
}
