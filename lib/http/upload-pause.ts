/** Far below a timer's resolution, far above a double's error on a clock of days in ms. */
const ROUNDING_SLACK_MS = 1e-6;

/**
 * One clock for `Retry-After` across a whole upload: a server that
 * asks one batch to wait is asking the client to wait, so every new attempt
 * waits for the same moment instead of each batch keeping its own timer and
 * the server being hit by all of them at once when they expire
 * (vector#4724 asked for exactly this global backoff).
 *
 * At most one timer exists, and only while someone waits for a pause that
 * has not passed; `close()` clears it. An upload that is paused with nobody
 * waiting holds no timer at all, so nothing keeps the process alive.
 */

export interface UploadPauseOptions {
  /** Milliseconds, monotonic (default `performance.now`). */
  now?: () => number;
  /** Timer functions, replaceable for tests (default the global `setTimeout`/`clearTimeout`). */
  setTimer?: (callback: () => void, ms: number) => unknown;
  clearTimer?: (timer: unknown) => void;
}

interface Waiter {
  resolve(): void;
  reject(reason: unknown): void;
  detach(): void;
}

export class UploadPause {
  readonly #now: () => number;
  readonly #setTimer: (callback: () => void, ms: number) => unknown;
  readonly #clearTimer: (timer: unknown) => void;
  /** New attempts wait until this time on our clock. */
  #until = Number.NEGATIVE_INFINITY;
  #timer: unknown;
  readonly #waiters = new Set<Waiter>();
  #closed: Error | undefined;

  constructor(options: UploadPauseOptions = {}) {
    this.#now = options.now ?? (() => performance.now());
    this.#setTimer = options.setTimer ?? ((callback, ms) => setTimeout(callback, ms));
    this.#clearTimer = options.clearTimer ?? ((timer) => clearTimeout(timer as NodeJS.Timeout));
  }

  /** The time (on this pause's clock) until which new attempts wait, or undefined when open. */
  get pausedUntil(): number | undefined {
    return this.#until > this.#now() ? this.#until : undefined;
  }

  get paused(): boolean {
    return this.pausedUntil !== undefined;
  }

  /** The pause's clock, for callers that turn a delay into `pauseUntil(now() + ms)`. */
  now(): number {
    return this.#now();
  }

  /**
   * Extends the pause to `time`. A pause is never shortened: an earlier
   * `Retry-After` from another batch does not undo a later one.
   */
  pauseUntil(time: number): void {
    if (this.#closed || !(time > this.#until)) return;
    this.#until = time;
    // A timer armed for the old end fires early and re-arms for the rest: no clear-and-set per response.
    if (this.#waiters.size > 0 && this.#timer === undefined) this.#arm();
  }

  /** `pauseUntil(now() + ms)`: what a `Retry-After` (already in ms, as got gives it) asks. */
  pauseFor(ms: number): void {
    this.pauseUntil(this.#now() + ms);
  }

  /**
   * `pauseFor(ms)`, then `whenOpen()`, on one reading of the clock: the
   * caller that was told to wait (the batch that got the `Retry-After`) is
   * the first waiter, and a timer it arms is exactly `ms` long, however long
   * the process was descheduled between the two steps.
   */
  pauseForAndWait(ms: number, signal?: AbortSignal): Promise<void> {
    const now = this.#now();
    this.pauseUntil(now + ms);
    return this.#whenOpen(signal, now);
  }

  /**
   * Resolves once no pause is in force (at once when open); rejects with the
   * signal's reason on abort, or with the `close()` reason.
   */
  whenOpen(signal?: AbortSignal): Promise<void> {
    return this.#whenOpen(signal, this.#now());
  }

  #whenOpen(signal: AbortSignal | undefined, now: number): Promise<void> {
    if (this.#closed) return Promise.reject(this.#closed);
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (!(this.#until > now)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.#waiters.delete(waiter);
        // The last waiter gone: no reason left to hold a timer.
        if (this.#waiters.size === 0) this.#disarm();
        reject(signal!.reason);
      };
      const waiter: Waiter = { resolve, reject, detach: () => signal?.removeEventListener('abort', onAbort) };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.add(waiter);
      if (this.#timer === undefined) this.#arm(now);
    });
  }

  /** The upload is over: clears the timer; pending and later `whenOpen()` calls reject with `reason`. */
  close(reason: Error = new Error('Upload pause closed')): void {
    this.#closed ??= reason;
    this.#disarm();
    for (const waiter of this.#waiters) {
      waiter.detach();
      waiter.reject(this.#closed);
    }
    this.#waiters.clear();
  }

  /** True while a timer is armed (for tests and diagnostics). */
  get timerArmed(): boolean {
    return this.#timer !== undefined;
  }

  #arm(now = this.#now()): void {
    // Whole ms, rounded up: a timer that fires a fraction early would only re-arm.
    // Not the last bits of a double, though: (now + ms) - now is ms + 4e-12 for
    // some clock readings, which rounded up to ms + 1.
    const delay = Math.max(0, Math.ceil(this.#until - now - ROUNDING_SLACK_MS));
    this.#timer = this.#setTimer(() => this.#expired(), delay);
  }

  #expired(): void {
    this.#timer = undefined;
    // Extended while the timer ran: wait for the rest.
    if (this.paused) {
      this.#arm();
      return;
    }
    for (const waiter of this.#waiters) {
      waiter.detach();
      waiter.resolve();
    }
    this.#waiters.clear();
  }

  #disarm(): void {
    if (this.#timer === undefined) return;
    this.#clearTimer(this.#timer);
    this.#timer = undefined;
  }
}
