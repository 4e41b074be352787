import { loadSignal, type LoadSignal } from './status.js';

/**
 * Slots for batch attempts, whatever decides their number: the interface the
 * batch transport uses for a fixed `concurrency` and for `'auto'` alike (see
 * adaptive-concurrency.ts), so it has one code path. The caller reports every
 * single attempt (got makes one at a time): the adaptive limit needs each
 * attempt's outcome and round-trip time, not only a batch's final result.
 */

/**
 * What one HTTP attempt told us about the server's capacity: a status's load
 * signal (status.ts); `failure` also for a timeout or a connection failure,
 * `neutral` also for our own cancel, which frees the slot and nothing more.
 */
export type AttemptKind = LoadSignal;

export interface AttemptOutcome {
  kind: AttemptKind;
  /**
   * Round-trip time of the attempt in ms, from just before the request to the
   * response. Only used for `'ok'`; optional otherwise. When left out, the time
   * between `started()` and `finished()` on the controller's clock is used.
   */
  rttMs?: number;
}

/** Returned by `started()`; give it back to `finished()` exactly once. */
export interface AttemptToken {
  /** The controller's clock when the attempt started. */
  readonly startedAt: number;
}

/**
 * The one interface the batch transport uses, whether the limit is fixed or
 * adaptive: ask for a slot, report every attempt's outcome.
 */
export interface ConcurrencyLimiter {
  /** Attempts allowed in flight now (1 ≤ limit ≤ max). */
  readonly limit: number;
  /** The highest the limit may go; the pool holds `max + 1` buffers. */
  readonly max: number;
  /** Attempts started and not yet finished. */
  readonly inFlight: number;
  readonly adaptive: boolean;
  /** Records an attempt that starts now, whatever the limit (the caller gates with `hasRoom` or uses `acquire`). */
  started(): AttemptToken;
  /** Reports how the attempt ended. A token given back twice is ignored. */
  finished(token: AttemptToken, outcome: AttemptOutcome): void;
  /** True when another attempt may start now. */
  hasRoom(): boolean;
  /**
   * Waits for room, then starts an attempt. Waiters are served by `order`
   * (lowest first: pass the batch's sequence so the oldest batch goes first),
   * then by arrival. Rejects with the signal's reason on abort, or with the
   * `close()` reason.
   */
  acquire(options?: { signal?: AbortSignal; order?: number }): Promise<AttemptToken>;
  /** The upload is over: pending and later `acquire()` calls reject with `reason`. */
  close(reason?: Error): void;
}

/**
 * What an attempt's response says about load, from its status code (the
 * status table's load column) or, without a response, got's error code.
 * Mirrors Vector's rule that whatever is retried is back pressure, with
 * explicit refusals told apart.
 */
export function classifyAttempt(outcome: { statusCode?: number; errorCode?: string }): AttemptKind {
  const { statusCode, errorCode } = outcome;
  if (statusCode !== undefined) return loadSignal(statusCode);
  // Our own cancel (abort, the upload failed elsewhere) is not the server's doing.
  if (errorCode === 'ERR_CANCELED' || errorCode === 'ABORT_ERR') return 'neutral';
  return 'failure';
}

interface Waiter {
  order: number;
  arrival: number;
  resolve(token: AttemptToken): void;
  reject(reason: unknown): void;
  detach(): void;
}

/** Shared bookkeeping: slots, waiters, tokens. Subclasses decide the limit. */
export abstract class SlotLimiter implements ConcurrencyLimiter {
  abstract readonly adaptive: boolean;
  abstract readonly max: number;
  protected readonly now: () => number;
  #inFlight = 0;
  readonly #open = new WeakSet<AttemptToken>();
  #waiters: Waiter[] = [];
  #arrivals = 0;
  #closed: Error | undefined;

  constructor(now: () => number) {
    this.now = now;
  }

  abstract get limit(): number;

  get inFlight(): number {
    return this.#inFlight;
  }

  hasRoom(): boolean {
    return this.#inFlight < this.limit;
  }

  started(): AttemptToken {
    const token: AttemptToken = { startedAt: this.now() };
    this.#open.add(token);
    this.#inFlight++;
    this.onStarted(this.#inFlight);
    return token;
  }

  finished(token: AttemptToken, outcome: AttemptOutcome): void {
    // Idempotent per token, so a double report never frees a slot twice.
    if (!this.#open.delete(token)) return;
    this.#inFlight--;
    this.onFinished(token, outcome);
    this.wake();
  }

  acquire({ signal, order = Number.POSITIVE_INFINITY }: { signal?: AbortSignal; order?: number } = {}): Promise<AttemptToken> {
    if (this.#closed) return Promise.reject(this.#closed);
    if (signal?.aborted) return Promise.reject(signal.reason);
    // Waiters already queued go first, even if a slot is free this instant.
    if (this.#waiters.length === 0 && this.hasRoom()) return Promise.resolve(this.started());
    return new Promise<AttemptToken>((resolve, reject) => {
      const onAbort = (): void => {
        this.#waiters = this.#waiters.filter((each) => each !== waiter);
        reject(signal!.reason);
      };
      const waiter: Waiter = {
        order,
        arrival: this.#arrivals++,
        resolve,
        reject,
        detach: () => signal?.removeEventListener('abort', onAbort),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const at = this.#waiters.findIndex((each) => each.order > order);
      if (at === -1) this.#waiters.push(waiter);
      else this.#waiters.splice(at, 0, waiter);
      // A caller may have used started() directly; serve the queue in order if room is left.
      this.wake();
    });
  }

  close(reason: Error = new Error('Concurrency limiter closed')): void {
    this.#closed ??= reason;
    for (const waiter of this.#waiters.splice(0)) {
      waiter.detach();
      waiter.reject(this.#closed);
    }
  }

  /** Starts queued attempts while there is room: after a finish or an increase. */
  protected wake(): void {
    while (this.#waiters.length > 0 && this.hasRoom()) {
      const waiter = this.#waiters.shift()!;
      waiter.detach();
      waiter.resolve(this.started());
    }
  }

  protected onStarted(_inFlight: number): void {}
  protected onFinished(_token: AttemptToken, _outcome: AttemptOutcome): void {}
}

/** `concurrency: n`: today's behaviour behind the same interface, so the transport has one code path. */
export class FixedConcurrency extends SlotLimiter {
  readonly adaptive = false;
  readonly max: number;

  constructor(limit: number, options: { now?: () => number } = {}) {
    super(options.now ?? (() => performance.now()));
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`concurrency must be a positive integer, received ${String(limit)}`);
    this.max = limit;
  }

  get limit(): number {
    return this.max;
  }
}
