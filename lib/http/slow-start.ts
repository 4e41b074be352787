/**
 * The slow start of `concurrency: 'auto'` (adaptive-concurrency.ts), as TCP's
 * (RFC 5681 §3.1), before the first back pressure: the limit still starts at
 * 1 (a server of capacity 1 sees no burst), but grows by one per 2xx
 * response, doubling per round trip: an upload is short, and climbing by
 * windows to 6 took a quarter of the bench's. Each step needs a 2xx near the
 * baseline answered while the limit was full; the first answer, which sets
 * the baseline, grows it too (waiting for a second answer at 1 cost a round
 * trip, 25–40 ms in the bench). Slow start ends on the first
 * overload response, failure or cut; and, as HyStart (RFC 9406), without a
 * cut on a single response well past the baseline (queueing has begun; the
 * windows decide from there). It may overshoot by a round trip's doubling, so
 * the first refusal after it halves the limit (not ×0.75). A client short of
 * CPU counts attempts in flight that are not yet at the server, so slow start
 * also stops at twice the 2xx answers received in the last round trip (BBR's
 * delivery rate).
 *
 * The halving decides on too little: a 429 comes back in a few ms, the 2xx of
 * the levels below it only after the server's latency (against a capacity of
 * 6, a refusal at 7 halved the limit to 3 with 4 confirmed). So until the
 * cut's window ends, each 2xx of an attempt sent before the cut at a level
 * above the limit raises it to that level: below the lowest level refused,
 * and no higher than the limit cut less the attempts refused and those not
 * answered yet (answered).
 */

/** How an attempt ended, as far as the raise after the halving is concerned. */
export type SlowStartOutcome = 'ok' | 'refused' | 'neutral';

/** What slow start is compared with: the controller's RTT baseline and its margins. */
export interface SlowStartBaseline {
  /** The moving average of windows' mean RTT, ms. */
  mean: number;
  /** A window is "well past" the baseline beyond `mean + wellPastMargin`. */
  wellPastMargin: number;
  /** A window is "near" the baseline up to `(1 + tolerance) × mean`. */
  tolerance: number;
}

/** One 2xx as slow start sees it. */
export interface SlowStartAnswer {
  rttMs: number;
  now: number;
  /** How far back answers count as received in the same round trip, ms. */
  roundTripMs: number;
  limit: number;
  max: number;
  /** The other attempts in flight filled all but this answer's slot. */
  limitWasFull: boolean;
}

export class SlowStart {
  /** True until the first back pressure, cut, or response well past the baseline; then the windows alone grow the limit. */
  #active: boolean;
  /** Slow start ran and nothing has cut since: its overshoot may still be in the limit. */
  #uncut: boolean;
  /** When each 2xx of the last round trip came back (the answers actually received). */
  readonly #answers: number[] = [];
  /** Until the halving: how many attempts were in flight when each was sent, itself included. */
  readonly #levels = new WeakMap<object, number>();
  /**
   * After the halving: the limit it cut; of the attempts sent before it, those refused, the lowest
   * level among them, those not answered yet and the highest level answered 2xx; until when a 2xx
   * may raise the limit.
   */
  #recovery: { peak: number; refused: number; lowestRefused: number; outstanding: number; confirmed: number; until: number } | undefined;

  constructor(enabled: boolean) {
    this.#active = enabled;
    this.#uncut = enabled;
  }

  get active(): boolean {
    return this.#active;
  }

  /** Slow start ran and no cut followed yet: the first refusal halves the limit. */
  get uncut(): boolean {
    return this.#uncut;
  }

  /** Back pressure (a refusal or failure): no more growth per answer. */
  end(): void {
    this.#active = false;
  }

  /** A cut: slow start is over and its overshoot is gone. */
  cut(): void {
    this.#active = false;
    this.#uncut = false;
  }

  /**
   * One 2xx in slow start: true when the limit grows by one. The first
   * answer, with no baseline yet to judge its round trip by, grows it when the
   * limit was full (it sets the baseline, which can only be too high: a cold
   * connection, JIT, so later answers look near rather than well past).
   *
   * A single round trip is judged with twice the window's margins: near up
   * to `(1 + 2 × tolerance) × baseline`, well past from
   * `baseline + 2 × wellPastMargin`. A window's mean averages a round trip's
   * responses (2–8 in slow start), so its jitter is about half a single
   * response's (σ/√n, n ≈ 4); with the window's own margins, the scheduling
   * jitter of a shared 2-core machine alone could end or stall slow start
   * (reasoned, not measured: bench/notes/overload-findings.md). Against a
   * queueing server the first N of a round come back at the baseline and keep
   * doubling, so the limit passes N by up to N before queued responses end
   * slow start. In between (neither near nor well past) a response neither
   * grows the limit nor ends it.
   */
  grows(answer: SlowStartAnswer, baseline: SlowStartBaseline | undefined): boolean {
    if (!this.#active) return false;
    const answered = this.#answersPerRoundTrip(answer.now, answer.roundTripMs);
    if (baseline === undefined) return answer.limitWasFull && answer.limit < answer.max && answer.limit < 2 * answered;
    if (answer.rttMs >= baseline.mean + 2 * baseline.wellPastMargin) {
      // HyStart: queueing has begun. No cut; the window this response belongs to decides on latency as before.
      this.#active = false;
      return false;
    }
    const near = answer.rttMs <= baseline.mean * (1 + 2 * baseline.tolerance);
    // A response that came back while slots were free says nothing about a higher limit; nor does a
    // limit already twice what the server answered in a round trip (attempts counted in flight that
    // a busy client has not sent yet fill it without the server seeing them).
    return near && answer.limitWasFull && answer.limit < answer.max && answer.limit < 2 * answered;
  }

  /** An attempt starts with `inFlight` in flight, itself included. */
  sent(attempt: object, inFlight: number): void {
    if (this.#uncut) this.#levels.set(attempt, inFlight);
  }

  /**
   * The halving after slow start, decided on the first refusal (`refused`): `peak` is the limit it
   * cut, `inFlight` the attempts still out. Until `until`, the 2xx of attempts sent before it may
   * raise the limit back (answered).
   */
  halved(refused: object, peak: number, inFlight: number, until: number): void {
    const lowestRefused = this.#levels.get(refused) ?? peak;
    this.cut();
    this.#recovery = { peak, refused: 1, lowestRefused, outstanding: inFlight, confirmed: 0, until };
  }

  /**
   * An attempt ended: after the halving, for a 2xx of one sent before it, the level the limit may be
   * raised back to and the level refused above it; otherwise undefined.
   */
  answered(attempt: object, outcome: SlowStartOutcome, now: number): { limit: number; refused: number } | undefined {
    const level = this.#levels.get(attempt);
    const recovery = this.#recovery;
    if (level === undefined || recovery === undefined) return undefined;
    this.#levels.delete(attempt);
    recovery.outstanding--;
    if (now >= recovery.until) {
      this.#recovery = undefined;
      return undefined;
    }
    if (outcome === 'refused') {
      recovery.refused++;
      recovery.lowestRefused = Math.min(recovery.lowestRefused, level);
    }
    if (outcome !== 'ok') return undefined;
    // Levels repeat (a slot freed is refilled at the same level), so the last 2xx may be of a lower
    // level than one before it: the highest so far is what the server showed it held.
    recovery.confirmed = Math.max(recovery.confirmed, level);
    // A 2xx at 6 says the server held 6, below the lowest level refused. But a level counts the
    // answers still on their way back as in flight (traced at capacity 4: refused at 6, 7, 8 and 8,
    // a 2xx at 5), and a busy client reads its 429s late, after 2xx sent later (halved at 15, raised
    // to 9 before the next seven 429s were read): so no higher than the limit cut less the attempts
    // refused and those not answered yet, any of which may still be a refusal.
    const ceiling = Math.min(recovery.lowestRefused - 1, recovery.peak - recovery.refused - recovery.outstanding);
    return { limit: Math.min(recovery.confirmed, ceiling), refused: recovery.lowestRefused };
  }

  /** Counts this 2xx and those of the last round trip (one baseline RTT, its edge included). */
  #answersPerRoundTrip(now: number, roundTripMs: number): number {
    const answers = this.#answers;
    answers.push(now);
    const since = now - roundTripMs;
    while (answers[0]! < since) answers.shift();
    return answers.length;
  }
}
