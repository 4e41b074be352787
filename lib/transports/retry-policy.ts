import type { RetryObject, RetryOptions } from 'got';

/**
 * Statuses worth another attempt of a batch: the server may do better later.
 * 413 is left out (a smaller request would be needed, not the same one again),
 * and so is 501 (the server will never support the method).
 */
export const BATCH_RETRY_STATUS_CODES: readonly number[] = [408, 429, 500, 502, 503, 504];

/**
 * Batch requests carry an `Idempotency-Key`, so a retried POST or PATCH is as
 * safe as a retried PUT; got leaves POST and PATCH out by default.
 */
export const BATCH_RETRY_METHODS: readonly string[] = ['POST', 'PUT', 'PATCH'];

/** got's first backoff step; each later attempt doubles it. */
const BASE_DELAY_MS = 1000;

/** What to do after a failed attempt. */
export type RetryVerdict =
  | { retry: true; delay: number }
  /** `retryAfterTooLong`: the seconds the server asked for, beyond `retry.maxRetryAfter`. */
  | { retry: false; retryAfterTooLong?: number };

/**
 * Decides whether and when to retry one failed attempt, from what got's
 * `calculateDelay` receives. Unlike got's own rule it:
 * - treats `Retry-After: 0` as "at once" (got passes `retryAfter: 0` and
 *   would fall back to its backoff; a delay of 0 would mean "do not retry",
 *   so at once is 1 ms);
 * - reports a `Retry-After` beyond `maxRetryAfter` instead of silently giving up;
 * - backs off exponentially with full jitter (a uniform delay in
 *   [0, min(backoffLimit, 1 s × 2^(attempt − 1))]) rather than got's flat
 *   0–100 ms noise, so many clients behind one outage do not retry in step.
 */
export function decideRetry({ attemptCount, retryOptions, error, retryAfter }: RetryObject, random: () => number = Math.random): RetryVerdict {
  // An afterResponse hook asked for a retry: got always honours that (with 1 ms).
  if (error.name === 'RetryError') return { retry: true, delay: 1 };
  if (attemptCount > retryOptions.limit) return { retry: false };
  const method = String(error.options?.method ?? '').toUpperCase();
  if (!retryOptions.methods.includes(method as never)) return { retry: false };
  const statusCode = error.response?.statusCode;
  const retryable = statusCode === undefined ? retryOptions.errorCodes.includes(error.code) : retryOptions.statusCodes.includes(statusCode);
  if (!retryable) return { retry: false };

  // got parses the header for us: undefined when absent, seconds × 1000 or a
  // date's distance in ms (at least 1 when in the past), NaN when malformed.
  if (statusCode !== undefined && retryAfter !== undefined && !Number.isNaN(retryAfter)) {
    const cap = retryOptions.maxRetryAfter ?? Number.POSITIVE_INFINITY;
    if (retryAfter > cap) return { retry: false, retryAfterTooLong: retryAfter / 1000 };
    return { retry: true, delay: Math.max(1, retryAfter) };
  }
  return { retry: true, delay: backoffDelay(attemptCount, retryOptions.backoffLimit, random) };
}

/**
 * Exponential backoff with full jitter: a uniform delay in
 * [1, min(backoffLimit, 1 s × 2^(attempt − 1))] ms. Never 0: to got, 0 means
 * "do not retry". Shared by batch retries and tus resumes.
 */
export function backoffDelay(attempt: number, backoffLimit = Number.POSITIVE_INFINITY, random: () => number = Math.random): number {
  const ceiling = Math.min(backoffLimit, BASE_DELAY_MS * 2 ** (attempt - 1));
  return Math.max(1, Math.round(random() * ceiling));
}

/**
 * The got `retry` options of one batch request: the user's options over the
 * batch defaults, with `calculateDelay` replaced by `calculateDelay` given here
 * (which applies `decideRetry` and then the user's own `calculateDelay`, if any).
 */
export function batchRetryOptions(user: Partial<RetryOptions>, calculateDelay: RetryOptions['calculateDelay']): Partial<RetryOptions> {
  const { calculateDelay: _userDelay, ...rest } = user;
  return {
    methods: [...BATCH_RETRY_METHODS] as RetryOptions['methods'],
    statusCodes: [...BATCH_RETRY_STATUS_CODES],
    ...rest,
    calculateDelay,
    // Our calculateDelay must see every failure, including a Retry-After over the cap.
    enforceRetryRules: false,
  };
}
