import { abortError } from './abort.js';
import type { RetryClock } from './retry-clock.js';
import { Retrier, type FailedAttempt, type RetrierOptions, type RetrySettings } from './retry.js';

/**
 * The one retry loop, around whatever a mode calls one attempt (a batch
 * request, a tus PATCH with the HEAD that precedes it after a failure, the
 * tus offset request): the policy wraps the request, as undici's
 * retry-handler does, and the request code only reports what happened by
 * throwing `AttemptFailed`. What a mode adds (batch: the 413 split, the
 * upload-wide pause, diagnostics) plugs in through `settle` and `beforeRetry`.
 */

/** One request that failed in a way the retry policy judges: a status, a connection error, a tus PATCH that stored nothing. */
export class AttemptFailed extends Error {
  readonly attempt: FailedAttempt;

  constructor(attempt: FailedAttempt) {
    super(attempt.error.message);
    this.attempt = attempt;
  }
}

/** A retry the policy decided, as `beforeRetry` sees it. */
export interface DecidedRetry {
  /** The attempt that failed. */
  failure: FailedAttempt;
  /** Attempts made so far. */
  attempts: number;
  /** The wait before the next attempt, ms. */
  delay: number;
  /** Why the policy retries (`'503'`, `'ECONNRESET'`, `'digest-mismatch'`, …). */
  reason: string;
  /** The server's `Retry-After` (ms), when it decided the wait. */
  retryAfter?: number | undefined;
}

export interface RetryLoopOptions<T> {
  /** The retry settings after defaults. */
  settings: RetrySettings;
  /** What the policy is told about the upload (batch 'auto': the short first backoff after an overload refusal). */
  policy?: RetrierOptions;
  /** Ends the loop with an `AbortError`: no attempt starts, and a wait ends at once. */
  signal?: AbortSignal | undefined;
  /**
   * A position that only grows (tus: the server's offset): when it moved
   * during a failed attempt, the failures before no longer count.
   */
  progress?: () => number;
  /** Settles a failed attempt before the policy judges it (batch: a 413 splits the batch); undefined lets the policy decide. */
  settle?: (failure: FailedAttempt) => Promise<T> | undefined;
  /**
   * Told of each retry before its wait. A promise it returns is waited for
   * instead of the backoff timer (batch: the upload-wide pause of a `Retry-After`).
   */
  beforeRetry?: (retry: DecidedRetry) => Promise<void> | undefined;
}

/** Runs `attempt` until it returns, or fails in a way the policy does not repeat (its error is thrown). */
export async function retrying<T>(attempt: (attempts: number) => Promise<T>, options: RetryLoopOptions<T>): Promise<T> {
  const { signal, progress } = options;
  const retrier = new Retrier(options.settings, options.policy);
  for (;;) {
    if (signal?.aborted) throw abortError(signal.reason);
    const before = progress?.();
    retrier.started();
    try {
      return await attempt(retrier.attempts);
    } catch (error) {
      if (!(error instanceof AttemptFailed)) throw error;
      const failure = error.attempt;
      if (before !== undefined && progress!() > before) retrier.progressed();
      const settled = options.settle?.(failure);
      if (settled) return settled;
      const decision = await retrier.decide(failure);
      if (!decision.retry) throw decision.error;
      const { delay, retryAfter, reason } = decision;
      const waiting = options.beforeRetry?.({ failure, attempts: retrier.attempts, delay, reason, retryAfter });
      await (waiting ?? backoff(delay, signal, retrier.clock));
    }
  }
}

/** A delay that an abort ends at once, leaving no timer behind. */
function backoff(ms: number, signal: AbortSignal | undefined, clock: RetryClock): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError(signal.reason));
      return;
    }
    const onAbort = (): void => {
      clock.clearTimer(timer);
      reject(abortError(signal!.reason));
    };
    const timer = clock.setTimer(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
