import type { RetryOptions } from 'got';
import { RetryAfterError, type BufferedHttpWritableError, type HttpStatusError } from '../errors.js';
import { retryClock, type RetryClock } from './retry-clock.js';
import { isOverload, retriedStatuses, retryAfterMs, saysDigestMismatch } from './status.js';

/** Statuses retried unless `retry.statusCodes` says otherwise: those the status table marks (status.ts). */
export const RETRY_STATUS_CODES: readonly number[] = retriedStatuses();

/** Methods retried by default: the `Idempotency-Key` makes a retried POST or PATCH as safe as a PUT. */
export const RETRY_METHODS: readonly string[] = ['POST', 'PUT', 'PATCH'];

/** got's error codes for a connection worth another attempt (its own default list). */
export const RETRY_ERROR_CODES: readonly string[] = ['ETIMEDOUT', 'ECONNRESET', 'EADDRINUSE', 'ECONNREFUSED', 'EPIPE', 'ENOTFOUND', 'ENETUNREACH', 'EAI_AGAIN'];

/** The first backoff step; each later failure doubles it. */
const BASE_DELAY_MS = 1000;

/** Resends of bytes refused as corrupted, in a row, before the upload gives up (see Retrier). */
export const MAX_DIGEST_MISMATCHES_IN_A_ROW = 5;

/**
 * `concurrency: 'auto'`, an overload refusal (status.ts) without `Retry-After`: the first backoff
 * ceilings are a few round trips, not 1 s. The limit was cut on that response
 * and the cut is what protects the server; the refused batch's jitter only
 * spreads the retries. With 1 s the refused batch's wait was the tail of the
 * upload (1.65× the best fixed setting against a 429 server; BENCHMARKS.md).
 * From the `FAST_OVERLOAD_FAILURES + 1`-th refusal in a row on, the usual
 * schedule applies, so a server that refuses everything for seconds still
 * gets seconds before the upload gives up.
 */
export const FAST_OVERLOAD_FAILURES = 3;
/** The fast ceiling's floor, ms: loopback round trips are well under 1 ms. */
export const MIN_OVERLOAD_BASE_MS = 10;

/** The first ceiling for a refusal in 'auto' mode: two baseline round trips, at least 10 ms (10 ms before any 2xx). */
export function overloadBaseDelay(baselineRttMs: number | undefined): number {
  return Math.max(MIN_OVERLOAD_BASE_MS, 2 * (baselineRttMs ?? 0));
}

/** The retry settings after defaults: got's option names, read by this engine only. */
export interface RetrySettings {
  /** Failed attempts in a row without progress that are retried (Infinity unless set: the time budget decides). */
  limit: number;
  /** ms from the first failure in a row without progress during which failures are retried (Infinity: no end). */
  maxRetryTime: number;
  statusCodes: readonly number[];
  errorCodes: readonly string[];
  /** A `Retry-After` longer than this (ms) fails instead of stalling the upload. */
  maxRetryAfter: number;
  backoffLimit: number;
  /** The caller's own delay rule: sees the engine's decision as `computedValue`; 0 means do not retry. */
  calculateDelay?: RetryOptions['calculateDelay'];
}

/** One failed attempt, as a transport saw it. */
export interface FailedAttempt {
  /** The typed error to report if no retry follows. */
  error: BufferedHttpWritableError;
  /** The response's status, when the server answered. */
  statusCode?: number;
  /** The response's `Retry-After` header, as received. */
  retryAfter?: string | undefined;
  /** The connection error's code (`ECONNRESET`, …), when there was no response. */
  code?: string | undefined;
  /** A protocol-level failure the transport knows to be worth another try (a tus PATCH that stored nothing). */
  retryable?: boolean;
}

export type RetryDecision =
  | {
      retry: true;
      delay: number;
      reason: string;
      /**
       * The server's `Retry-After` (ms) decided the wait: it applies to the
       * whole upload (batch: every new attempt waits on one clock), not to
       * this request alone. `delay` is the wait (after `calculateDelay`).
       */
      retryAfter?: number;
    }
  | { retry: false; error: BufferedHttpWritableError };

/** How the engine is told about the upload it serves. */
export interface RetrierOptions {
  random?: () => number;
  /**
   * batch with `concurrency: 'auto'`: the first backoff ceiling (ms) for an
   * overload refusal without `Retry-After`, asked at each decision (it follows the
   * RTT baseline). Absent: 1 s, as for every other failure.
   */
  overloadBaseDelay?: () => number;
  /** The clock the time budget is measured on (default: the installed retry clock, real time). */
  clock?: RetryClock;
}

/**
 * The one place that decides whether and when a failed attempt is repeated,
 * for batch requests and tus requests alike (got makes single attempts, so
 * every outcome is seen here):
 * - one classification of statuses and error codes (above, or `retry.*`);
 * - `Retry-After` honoured as given (RFC 9110 §10.2.3), `0` meaning at once,
 *   and one beyond `maxRetryAfter` failing with `RetryAfterError`;
 * - exponential backoff with full jitter otherwise;
 * - a budget in time, `maxRetryTime`, from the first failure in a row
 *   without progress: a backoff is shortened to end inside it, a
 *   `Retry-After` that ends past it fails at once;
 * - `limit` counts failures in a row without progress: a long upload over a
 *   flaky link is not failed by the sum of its hiccups. Whichever of the two
 *   runs out first ends the retries, and the error says how many attempts
 *   failed over how long (`retries`);
 * - a digest mismatch is resent whatever `statusCodes` says, but not past
 *   `MAX_DIGEST_MISMATCHES_IN_A_ROW`: a byte flipped on the way is rare, so
 *   the same bytes refused as corrupted again and again mean something on the
 *   way changes them every time (a proxy that rewrites bodies, a checksum
 *   computed wrong), which resending for the whole budget would only hide.
 */
export class Retrier {
  readonly #settings: RetrySettings;
  readonly #random: () => number;
  readonly #overloadBaseDelay: (() => number) | undefined;
  readonly #clock: RetryClock;
  #failures = 0;
  /** Digest mismatches in a row: any other outcome starts the count again. */
  #mismatches = 0;
  /** When the first failure in a row without progress came (on `#clock`). */
  #firstFailureAt = 0;
  #attempts = 0;

  constructor(settings: RetrySettings, options: RetrierOptions | (() => number) = {}) {
    this.#settings = settings;
    const { random = Math.random, overloadBaseDelay, clock = retryClock() } = typeof options === 'function' ? { random: options } : options;
    this.#random = random;
    this.#overloadBaseDelay = overloadBaseDelay;
    this.#clock = clock;
  }

  /** The clock the budget is measured on: the retry loop sets its backoff timers on it too. */
  get clock(): RetryClock {
    return this.#clock;
  }

  /** Attempts made so far (1 after the first). */
  get attempts(): number {
    return this.#attempts;
  }

  /** Call when an attempt starts. */
  started(): void {
    this.#attempts++;
  }

  /** Call when the upload advanced: the failures before no longer count. */
  progressed(): void {
    this.#failures = 0;
    this.#mismatches = 0;
  }

  async decide(attempt: FailedAttempt): Promise<RetryDecision> {
    this.#failures++;
    if (this.#failures === 1) this.#firstFailureAt = this.#clock.now();
    let verdict = this.#verdict(attempt);
    const { calculateDelay } = this.#settings;
    if (calculateDelay) {
      const computedValue = verdict.retry ? verdict.delay : 0;
      const delay = await calculateDelay({
        attemptCount: this.#failures,
        retryOptions: this.#settings as unknown as RetryOptions,
        error: attempt.error as never,
        computedValue,
        retryAfter: retryAfterMs(attempt.retryAfter),
      });
      if (delay > 0) verdict = verdict.retry ? { ...verdict, delay } : { retry: true, delay, reason: 'calculateDelay' };
      else if (verdict.retry) verdict = { retry: false, error: attempt.error };
    }
    return verdict;
  }

  #verdict(attempt: FailedAttempt): RetryDecision {
    const reason = this.#reason(attempt);
    if (reason === undefined) return { retry: false, error: attempt.error };
    const { limit, maxRetryTime, maxRetryAfter, backoffLimit } = this.#settings;
    const elapsed = this.#clock.now() - this.#firstFailureAt;
    this.#mismatches = reason === 'digest-mismatch' ? this.#mismatches + 1 : 0;
    if (this.#mismatches > MAX_DIGEST_MISMATCHES_IN_A_ROW) {
      return this.#giveUp(attempt.error, elapsed, `the bytes arrived changed ${this.#mismatches} times in a row: something on the way alters them`);
    }
    const left = maxRetryTime - elapsed;
    if (this.#failures > limit) return limit === 0 ? { retry: false, error: attempt.error } : this.#giveUp(attempt.error, elapsed, `retry.limit is ${limit}`);
    if (left <= 0) return this.#giveUp(attempt.error, elapsed, `retry.maxRetryTime is ${seconds(maxRetryTime)}`);
    const wait = attempt.statusCode === undefined ? undefined : retryAfterMs(attempt.retryAfter);
    if (wait !== undefined) {
      if (wait > maxRetryAfter) {
        return { retry: false, error: retryAfterError(attempt.error as HttpStatusError, wait, maxRetryAfter) };
      }
      // Waiting less than the server asked would be refused again; waiting longer than the budget is not retrying within it.
      if (wait > left) return this.#giveUp(attempt.error, elapsed, `Retry-After ${seconds(wait)} ends past retry.maxRetryTime (${seconds(maxRetryTime)})`);
      // At once is 1 ms: a timer keeps the loop asynchronous.
      return { retry: true, delay: Math.max(1, wait), reason, retryAfter: wait };
    }
    const base = isOverload(attempt.statusCode) && this.#overloadBaseDelay && this.#failures <= FAST_OVERLOAD_FAILURES ? this.#overloadBaseDelay() : undefined;
    const delay = backoffDelay(this.#failures, backoffLimit, this.#random, base);
    // The last attempt goes at the budget's end rather than not at all.
    return { retry: true, delay: Math.max(1, Math.min(delay, Math.ceil(left))), reason };
  }

  /** The last error, told how many attempts failed in a row over how long. */
  #giveUp(error: BufferedHttpWritableError, elapsedMs: number, why: string): RetryDecision {
    const attempts = this.#failures;
    error.retries = { attempts, elapsedMs };
    const note = ` (gave up after ${attempts} failed attempt${attempts === 1 ? '' : 's'} over ${seconds(elapsedMs)}: ${why})`;
    const first = error.message;
    error.message = first + note;
    error.stack = String(error.stack).replace(first, error.message);
    return { retry: false, error };
  }

  /** Why the attempt is worth repeating (`'429'`, `'ECONNRESET'`, …), or undefined when it is not. */
  #reason({ statusCode, code, retryable, error }: FailedAttempt): string | undefined {
    if (retryable) return 'no-progress';
    // Not in `retry.statusCodes`' hands: the bytes, not the request, went wrong on the way.
    if (saysDigestMismatch(statusCode, (error as { body?: string }).body)) return 'digest-mismatch';
    if (statusCode !== undefined) return this.#settings.statusCodes.includes(statusCode) ? String(statusCode) : undefined;
    return code !== undefined && this.#settings.errorCodes.includes(code) ? code : undefined;
  }
}

/**
 * Exponential backoff with full jitter: a uniform delay in
 * [1, min(backoffLimit, base × 2^(failure − 1))] ms (base 1 s), so many
 * clients behind one outage do not retry in step.
 */
export function backoffDelay(
  failure: number,
  backoffLimit = Number.POSITIVE_INFINITY,
  random: () => number = Math.random,
  baseMs: number = BASE_DELAY_MS,
): number {
  const ceiling = Math.min(backoffLimit, baseMs * 2 ** (failure - 1));
  return Math.max(1, Math.round(random() * ceiling));
}

/** `12 ms`, `1.5 s`, `120 s`: how a time reads in a message. */
function seconds(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${Number((ms / 1000).toFixed(1))} s`;
}

function retryAfterError(error: HttpStatusError, waitMs: number, capMs: number): RetryAfterError {
  const summary = { statusCode: error.statusCode, body: error.body, ...(error.statusMessage ? { statusMessage: error.statusMessage } : {}) };
  const position = {
    ...(error.sequence === undefined ? {} : { sequence: error.sequence }),
    ...(error.offset === undefined ? {} : { offset: error.offset }),
    ...(error.uploadUrl === undefined ? {} : { uploadUrl: error.uploadUrl }),
  };
  return new RetryAfterError(summary, waitMs / 1000, capMs, error, position);
}
