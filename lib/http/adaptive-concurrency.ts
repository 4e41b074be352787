import { FixedConcurrency, SlotLimiter, type AttemptOutcome, type AttemptToken, type ConcurrencyLimiter } from './concurrency-limiter.js';
import { SlowStart, type SlowStartBaseline } from './slow-start.js';

/**
 * How many batch requests may be in flight at once: a fixed number, or a
 * limit that adapts to the server (`concurrency: 'auto'`).
 *
 * The adaptive limit is AIMD in the manner of Vector's Adaptive Request
 * Concurrency (src/sinks/util/adaptive_concurrency/controller.rs): time is cut
 * into windows one baseline round trip long; the baseline is an exponentially
 * weighted moving average (and variance) of each window's mean RTT. At the end
 * of a window the limit grows by one when the window's RTT stayed near the
 * baseline, every response was a 2xx and the limit was actually reached (no
 * growth without evidence); until the first back pressure, by one per
 * response instead (slow start, below). It is cut at once on an overload refusal
 * (status.ts), a failure (timeout, connection failure, 5xx gateway responses), or at a
 * window's end when its RTT climbed well past the baseline.
 *
 * Where we depart from Vector, and why:
 * - An explicit refusal or failure cuts the limit at once (not at the window's
 *   end), by ×0.75: 429s come back fast, so waiting for the window would let
 *   every free slot draw another refusal. Deeper than Vector's ×0.9, which
 *   rounded down is only −1 below 10 (16 → 4 in 9 windows; ×0.75: 16, 12, 9,
 *   6, 4). Not TCP's ×0.5 (but see slow start): halving 7 to 3 left a server
 *   of capacity 6 half idle while the limit climbed back.
 * - RTT growth alone cuts by ×0.9 (Vector's default): the responses still
 *   succeed and the signal is noisy. Below 10 it means −1, which keeps a
 *   queueing server near its capacity.
 * - At most one cut per window, and never for an attempt that started before
 *   the last cut (it was sent under the old limit). A slot refused after the
 *   cut stays empty for the rest of its window (hasRoom).
 * - After a cut for a refusal or failure, growing back to the limit that was
 *   cut takes `probeWindows` eligible windows in a row instead of one (a
 *   plateau, as TCP CUBIC slows near its last loss): otherwise the limit would
 *   oscillate one step above the server's capacity and draw a refusal every
 *   other window. A level refused again and again waits twice, then four
 *   times as long (#windowsBeforeStep). A latency cut has no plateau.
 * - A refusal within the window after a step up, of an attempt sent after
 *   it, takes that step back instead of cutting ×0.75: the level below held
 *   for a whole window, so the step found the capacity. Otherwise each probe
 *   above a capacity of 6 fell to 5 (7 × 0.75, rounded down). A server whose
 *   capacity fell further keeps refusing, cut ×0.75 from the next window on.
 * - A slow start, as TCP's, before the first back pressure: one more per
 *   2xx answer instead of one per window (slow-start.ts); the first refusal
 *   after it halves the limit, and the 2xx of the levels below the refused
 *   one, still in flight then, raise it back ('confirmed').
 *
 * The controller owns no timer: windows are checked when an attempt finishes,
 * with a clock the caller may inject, so tests drive it step by step.
 */

export type LimitChangeReason =
  /** At a window's end: the limit was reached, RTTs stayed near the baseline and every response was a 2xx. */
  | 'increase'
  /** Before the first back pressure: one 2xx answered near the baseline while the limit was full (+1 per response). */
  | 'slow-start'
  /** An overload refusal (status.ts). */
  | 'overload'
  /** A timeout, connection failure or gateway error. */
  | 'failure'
  /** A window's mean RTT climbed well past the baseline. */
  | 'latency'
  /** After slow start's first refusal halved the limit: a 2xx of an attempt sent before it, at a level above the new limit. */
  | 'confirmed';

export interface LimitChange {
  limit: number;
  previous: number;
  reason: LimitChangeReason;
  /** The window's mean RTT, when the change was decided at a window's end; for `'slow-start'`, the response's RTT. */
  rttMs?: number;
  /** The RTT baseline (moving average) the window was compared with, once there is one. */
  baselineRttMs?: number;
}

export interface AdaptiveConcurrencyOptions {
  /** The highest limit (default 16). */
  max?: number;
  /** The first limit (default 1). */
  initial?: number;
  /** Called after every change of the limit. */
  onChange?: (change: LimitChange) => void;
  /** Milliseconds, monotonic (default `performance.now`). */
  now?: () => number;
  /** Weight of a new window in the RTT baseline (Vector: 0.4). */
  ewmaAlpha?: number;
  /** A window is "well past" the baseline beyond `rttDeviationScale` standard deviations (Vector: 2.5)… */
  rttDeviationScale?: number;
  /**
   * …and beyond `2 × rttTolerance × baseline` whatever the deviation (0.1):
   * with a steady server the deviation is near 0 and client-side jitter alone
   * would cut (it did, at 0.05, on a busy 2-core machine).
   * A window is "near" the baseline up to `(1 + rttTolerance) × baseline`.
   */
  rttTolerance?: number;
  /** Multiplier on an overload response or a failure (0.75). */
  overloadDecrease?: number;
  /** Multiplier when RTTs climb well past the baseline (Vector: 0.9). */
  latencyDecrease?: number;
  /** Eligible windows in a row needed to grow back to the limit last cut (4; 1 turns the plateau off). */
  probeWindows?: number;
  /** Grow by one per 2xx response, not per window, until the first back pressure (default true). */
  slowStart?: boolean;
}

export const DEFAULT_MAX_CONCURRENCY = 16;

/** The shortest RTT window: on loopback a baseline near 0 ms would end a window on every response. */
export const MIN_WINDOW_MS = 1;

/** Builds the limiter for the `concurrency` option: a number is fixed, `'auto'` adapts up to `max`. */
export function createConcurrencyLimiter(concurrency: number | 'auto', options: AdaptiveConcurrencyOptions = {}): ConcurrencyLimiter {
  return concurrency === 'auto' ? new AdaptiveConcurrency(options) : new FixedConcurrency(concurrency);
}

interface MeanVariance {
  mean: number;
  variance: number;
}

/** `concurrency: 'auto'`: the AIMD controller described at the top of this file. */
export class AdaptiveConcurrency extends SlotLimiter {
  readonly adaptive = true;
  readonly max: number;
  #limit: number;
  readonly #onChange: ((change: LimitChange) => void) | undefined;
  readonly #alpha: number;
  readonly #deviationScale: number;
  readonly #tolerance: number;
  readonly #overloadDecrease: number;
  readonly #latencyDecrease: number;
  readonly #probeWindows: number;
  /** EWMA of past windows' mean RTT; undefined until the first 2xx. */
  #baseline: MeanVariance | undefined;
  /** End of the current window on our clock. */
  #windowEnd = 0;
  #windowRttSum = 0;
  #windowRttCount = 0;
  #reachedLimit = false;
  #hadBackPressure = false;
  /** When the limit was last cut: older attempts cannot cut it again, and one cut per window. */
  #lastDecreaseAt = Number.NEGATIVE_INFINITY;
  #decreaseWindowEnd = Number.NEGATIVE_INFINITY;
  /** The limit that was last cut, until a window at or above it passes cleanly. */
  #plateau: number | undefined;
  #eligibleWindows = 0;
  /** The last step up by a window (from which limit, when), until the window after it ends. */
  #stepUp: { from: number; at: number } | undefined;
  readonly #slowStart: SlowStart;
  /** The level a step up was last refused at, and how many times in a row: later steps to it wait longer. */
  #refusedLevel: { level: number; times: number } | undefined;
  /** Slots refused under the current limit, kept empty until the window of the last cut ends. */
  #held = 0;

  constructor(options: AdaptiveConcurrencyOptions = {}) {
    super(options.now ?? (() => performance.now()));
    this.max = integerAtLeast('max', options.max ?? DEFAULT_MAX_CONCURRENCY, 1);
    this.#limit = integerAtLeast('initial', options.initial ?? 1, 1);
    if (this.#limit > this.max) throw new RangeError(`initial must not exceed max (${this.max}), received ${this.#limit}`);
    this.#onChange = options.onChange;
    this.#alpha = fraction('ewmaAlpha', options.ewmaAlpha ?? 0.4);
    this.#deviationScale = positive('rttDeviationScale', options.rttDeviationScale ?? 2.5);
    this.#tolerance = positive('rttTolerance', options.rttTolerance ?? 0.1);
    this.#overloadDecrease = fraction('overloadDecrease', options.overloadDecrease ?? 0.75);
    this.#latencyDecrease = fraction('latencyDecrease', options.latencyDecrease ?? 0.9);
    this.#probeWindows = integerAtLeast('probeWindows', options.probeWindows ?? 4, 1);
    const slowStart = options.slowStart ?? true;
    if (typeof slowStart !== 'boolean') throw new TypeError(`slowStart must be a boolean, received ${typeof slowStart} ${String(slowStart)}`);
    this.#slowStart = new SlowStart(slowStart);
  }

  get limit(): number {
    return this.#limit;
  }

  /** The RTT baseline in ms (moving average of windows' mean RTT), once a 2xx was seen. */
  get baselineRttMs(): number | undefined {
    return this.#baseline?.mean;
  }

  /**
   * A slot refused after the last cut stays empty until that cut's window ends: a 429 comes back in
   * ms, and a limit still above the capacity refilled it at once (nine 429s in 44 ms after a slow
   * start that ran to 12 against a capacity of 4). One slot always stays usable.
   */
  override hasRoom(): boolean {
    if (this.#held > 0 && this.now() >= this.#decreaseWindowEnd) this.#held = 0;
    return this.inFlight + this.#held < this.#limit;
  }

  override started(): AttemptToken {
    const token = super.started();
    this.#slowStart.sent(token, this.inFlight);
    return token;
  }

  protected override onStarted(inFlight: number): void {
    if (inFlight >= this.#limit) this.#reachedLimit = true;
  }

  protected override onFinished(token: AttemptToken, outcome: AttemptOutcome): void {
    const now = this.now();
    this.#raiseAfterHalving(token, outcome.kind, now);
    if (outcome.kind === 'ok') {
      const rtt = outcome.rttMs ?? now - token.startedAt;
      if (Number.isFinite(rtt) && rtt >= 0) {
        this.#windowRttSum += rtt;
        this.#windowRttCount++;
        if (this.#slowStart.active) this.#slowStartAnswer(rtt, now);
      }
    } else if (outcome.kind === 'overload' || outcome.kind === 'failure') {
      this.#hadBackPressure = true;
      this.#slowStart.end();
      this.#backPressure(token, outcome.kind, now);
    }
    this.#endWindowIfDue(now);
  }

  /** One 2xx in slow start: +1 when slow start says so. */
  #slowStartAnswer(rtt: number, now: number): void {
    // inFlight no longer counts this attempt: the limit was full if the others fill all but its slot.
    const limitWasFull = this.inFlight + 1 >= this.#limit;
    const answer = { rttMs: rtt, now, roundTripMs: this.#windowLength(), limit: this.#limit, max: this.max, limitWasFull };
    if (this.#slowStart.grows(answer, this.#slowStartBaseline())) this.#change(this.#limit + 1, 'slow-start', rtt);
  }

  /**
   * An answer of an attempt sent before the last cut: after slow start's halving, a 2xx at a level
   * above the limit raises it back there (below the level refused), the level refused next above.
   */
  #raiseAfterHalving(token: AttemptToken, kind: AttemptOutcome['kind'], now: number): void {
    const raise = this.#slowStart.answered(token, kind === 'ok' || kind === 'neutral' ? kind : 'refused', now);
    if (raise === undefined || raise.limit <= this.#limit) return;
    this.#refusedLevel = { level: raise.refused, times: 1 };
    this.#change(raise.limit, 'confirmed', undefined);
  }

  /** What slow start compares a single answer with, once there is a baseline. */
  #slowStartBaseline(): SlowStartBaseline | undefined {
    const baseline = this.#baseline;
    if (baseline === undefined) return undefined;
    return { mean: baseline.mean, wellPastMargin: this.#wellPastMargin(baseline), tolerance: this.#tolerance };
  }

  /** A window (or RTT) is well past the baseline beyond this margin above it. */
  #wellPastMargin(baseline: MeanVariance): number {
    return Math.max(Math.sqrt(baseline.variance) * this.#deviationScale, 2 * this.#tolerance * baseline.mean);
  }

  /** One baseline round trip, at least MIN_WINDOW_MS. */
  #windowLength(): number {
    return Math.max(MIN_WINDOW_MS, this.#baseline?.mean ?? 0);
  }

  /**
   * Cuts at once, at most once per window, only for attempts sent under the current limit: to half
   * after slow start, back to the level below after a step up (it held a window: the step found the
   * capacity), else ×0.75.
   */
  #backPressure(token: AttemptToken, reason: 'overload' | 'failure', now: number): void {
    if (token.startedAt <= this.#lastDecreaseAt) return;
    if (now < this.#decreaseWindowEnd) {
      this.#held = Math.min(this.#held + 1, this.#limit - 1);
      return;
    }
    const step = this.#stepUp;
    // Slow start doubled the limit in its last round trip (even if a slow answer ended it since: a busy
    // client read its 429s up to 150 ms late): half is the level that held (RFC 5681's FlightSize / 2).
    // ×0.75 of 8 left a capacity of 4 two slots, each drawing a 429 as soon as its last came back.
    // The 2xx of the levels between come back later and raise it again (#raiseAfterHalving).
    if (this.#slowStart.uncut) {
      const peak = this.#limit;
      this.#cutTo(Math.floor(peak / 2), reason, now);
      this.#slowStart.halved(token, peak, this.inFlight, this.#decreaseWindowEnd);
    } else if (step !== undefined && token.startedAt >= step.at) {
      const times = this.#refusedLevel?.level === this.#limit ? this.#refusedLevel.times + 1 : 1;
      this.#refusedLevel = { level: this.#limit, times };
      this.#cutTo(step.from, reason, now);
    } else this.#cutTo(Math.floor(this.#limit * this.#overloadDecrease), reason, now);
  }

  /**
   * Eligible windows needed before the next step up: one; `probeWindows` to reach the limit last cut
   * (the plateau); to reach a level a step up was refused at, `probeWindows` doubled for each refusal
   * there in a row, at most ×4: at a capacity of 4 a probe every 6 windows drew 4 % of requests as 429s.
   */
  #windowsBeforeStep(): number {
    const next = this.#limit + 1;
    const refused = this.#refusedLevel;
    if (refused !== undefined && next >= refused.level) return this.#probeWindows * 2 ** Math.min(refused.times - 1, 2);
    return this.#plateau !== undefined && next >= this.#plateau ? this.#probeWindows : 1;
  }

  #endWindowIfDue(now: number): void {
    const rtt = this.#windowRttCount > 0 ? this.#windowRttSum / this.#windowRttCount : undefined;
    if (this.#baseline === undefined) {
      // The first window with a 2xx only sets the baseline: there is nothing to compare with yet.
      if (rtt === undefined) return;
      this.#baseline = { mean: rtt, variance: 0 };
      this.#startWindow(now);
      return;
    }
    if (now < this.#windowEnd) return;
    this.#manageLimit(rtt, now);
    if (rtt !== undefined) this.#baseline = ewmaUpdate(this.#baseline, rtt, this.#alpha);
    this.#startWindow(now);
  }

  #manageLimit(rtt: number | undefined, now: number): void {
    // A step up is in question for the one window after it: past that, a refusal is load, cut as such.
    this.#stepUp = undefined;
    const baseline = this.#baseline!;
    const near = rtt !== undefined && rtt <= baseline.mean * (1 + this.#tolerance);
    const wellPast = rtt !== undefined && !near && rtt >= baseline.mean + this.#wellPastMargin(baseline);

    // In slow start the responses themselves grow the limit; a window may still cut it for latency (which ends slow start).
    if (!this.#slowStart.active && this.#reachedLimit && !this.#hadBackPressure && near && this.#limit < this.max) {
      this.#eligibleWindows++;
      // The plateau lifts once a window at or above the limit last cut went cleanly; so does a refused level.
      if (this.#plateau !== undefined && this.#limit >= this.#plateau) this.#plateau = undefined;
      if (this.#refusedLevel !== undefined && this.#limit >= this.#refusedLevel.level) this.#refusedLevel = undefined;
      if (this.#eligibleWindows >= this.#windowsBeforeStep()) {
        this.#eligibleWindows = 0;
        this.#stepUp = { from: this.#limit, at: now };
        this.#change(this.#limit + 1, 'increase', rtt);
      }
      return;
    }
    if (!this.#reachedLimit || this.#hadBackPressure || !near) this.#eligibleWindows = 0;
    if (wellPast && !this.#hadBackPressure && now >= this.#decreaseWindowEnd) {
      // Rounded down so that a cut always lowers the limit, as in Vector.
      this.#cutTo(Math.floor(this.#limit * this.#latencyDecrease), 'latency', now, rtt);
    }
  }

  #cutTo(limit: number, reason: LimitChangeReason, now: number, rtt?: number): void {
    this.#slowStart.cut();
    this.#stepUp = undefined;
    if (this.#limit <= 1) return;
    // Only a refusal or a failure found a level to approach slowly. After a latency cut, four clean windows in a
    // row were rare on a busy client (RTTs jump with no queue at the server): a capacity of 4 spent half its time at 3.
    if (reason !== 'latency') this.#plateau = this.#limit;
    this.#eligibleWindows = 0;
    this.#lastDecreaseAt = now;
    this.#decreaseWindowEnd = now + this.#windowLength();
    this.#held = 0;
    this.#change(Math.max(1, limit), reason, rtt);
  }

  #change(limit: number, reason: LimitChangeReason, rtt: number | undefined): void {
    const previous = this.#limit;
    this.#limit = limit;
    const change: LimitChange = { limit, previous, reason };
    if (rtt !== undefined) change.rttMs = rtt;
    if (this.#baseline !== undefined) change.baselineRttMs = this.#baseline.mean;
    this.#onChange?.(change);
    if (limit > previous) this.wake();
  }

  #startWindow(now: number): void {
    this.#windowEnd = now + this.#windowLength();
    this.#windowRttSum = 0;
    this.#windowRttCount = 0;
    // Attempts still in flight at the limit count as having reached it in the new window too.
    this.#reachedLimit = this.inFlight >= this.#limit;
    this.#hadBackPressure = false;
  }
}

/** Vector's EwmaVar: mean and variance weighted by `alpha`. */
function ewmaUpdate(state: MeanVariance, point: number, alpha: number): MeanVariance {
  const difference = point - state.mean;
  const increment = alpha * difference;
  return { mean: state.mean + increment, variance: (1 - alpha) * (state.variance + difference * increment) };
}

function integerAtLeast(name: string, value: number, least: number): number {
  if (!Number.isInteger(value) || value < least) throw new RangeError(`${name} must be an integer ≥ ${least}, received ${String(value)}`);
  return value;
}

function fraction(name: string, value: number): number {
  if (!(value > 0 && value < 1)) throw new RangeError(`${name} must be between 0 and 1 (exclusive), received ${String(value)}`);
  return value;
}

function positive(name: string, value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) throw new RangeError(`${name} must be a positive number, received ${String(value)}`);
  return value;
}
