import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { AdaptiveConcurrency, createConcurrencyLimiter, type AdaptiveConcurrencyOptions, type LimitChange } from '../../lib/http/adaptive-concurrency.js';
import { classifyAttempt, FixedConcurrency, type AttemptKind, type AttemptToken } from '../../lib/http/concurrency-limiter.js';
import { manualClock, type ManualClock } from '../helpers/manual-clock.js';

/** A controller on a manual clock that records every change. */
function controller(options: AdaptiveConcurrencyOptions = {}): { limiter: AdaptiveConcurrency; clock: ManualClock; changes: LimitChange[] } {
  const clock = manualClock();
  const changes: LimitChange[] = [];
  const limiter = new AdaptiveConcurrency({ now: clock.now, onChange: (change) => changes.push(change), ...options });
  return { limiter, clock, changes };
}

/** One round trip at full use: start `limit` attempts, let `rtt` ms pass, finish them all with `kind`. */
function round(limiter: AdaptiveConcurrency, clock: ManualClock, rtt = 10, kind: AttemptKind = 'ok'): void {
  const tokens = Array.from({ length: limiter.limit }, () => limiter.started());
  clock.advance(rtt);
  for (const token of tokens) limiter.finished(token, { kind, rttMs: rtt });
}

/**
 * A sender with more to send than the limit allows, as the batch transport
 * is: every attempt in flight is answered after `rtt(i)` ms (i counts the
 * answers of this round), and each answer's slot, and any slot an increase
 * opened, is filled at once by an attempt answered in the next round.
 * Returns the attempts in flight for the next round.
 */
function pipelinedRound(
  limiter: AdaptiveConcurrency,
  clock: ManualClock,
  inFlight: AttemptToken[],
  rtt: (i: number) => number = () => 10,
  kind: AttemptKind = 'ok',
): AttemptToken[] {
  const next: AttemptToken[] = [];
  const fill = (): void => {
    while (limiter.hasRoom()) next.push(limiter.started());
  };
  fill();
  clock.advance(10);
  for (const [i, token] of [...inFlight].entries()) {
    limiter.finished(token, { kind, rttMs: rtt(i) });
    fill();
  }
  return next;
}

describe('adaptive concurrency: growth', () => {
  test('without slow start: starts at 1 and grows by one per RTT window while RTTs stay at the baseline and the limit is reached', () => {
    const { limiter, clock, changes } = controller({ max: 8, slowStart: false });
    expect(limiter.limit).toBe(1);
    round(limiter, clock); // sets the baseline
    expect(limiter.baselineRttMs).toBe(10);
    for (let expected = 2; expected <= 5; expected++) {
      round(limiter, clock);
      expect(limiter.limit).toBe(expected);
    }
    expect(changes.map((change) => [change.previous, change.limit, change.reason])).toEqual([
      [1, 2, 'increase'],
      [2, 3, 'increase'],
      [3, 4, 'increase'],
      [4, 5, 'increase'],
    ]);
  });

  test('never grows past max', () => {
    const { limiter, clock } = controller({ max: 3 });
    for (let i = 0; i < 10; i++) round(limiter, clock);
    expect(limiter.limit).toBe(3);
  });

  test('does not grow when the limit was never reached: no evidence the server could take more', () => {
    const { limiter, clock, changes } = controller({ max: 8, initial: 4 });
    for (let i = 0; i < 6; i++) {
      // Two at a time under a limit of 4.
      const tokens = [limiter.started(), limiter.started()];
      clock.advance(10);
      for (const token of tokens) limiter.finished(token, { kind: 'ok', rttMs: 10 });
    }
    expect(limiter.limit).toBe(4);
    expect(changes).toEqual([]);
  });

  test('does not grow while RTTs sit above the baseline (but not well past it)', () => {
    // The window's margins; slow start judges single answers with wider ones (below).
    const { limiter, clock } = controller({ max: 8, slowStart: false });
    round(limiter, clock, 10);
    round(limiter, clock, 10);
    expect(limiter.limit).toBe(2);
    // 15 % above: not near (up to 10 %), not well past (from 20 % on a steady baseline).
    round(limiter, clock, 11.5);
    expect(limiter.limit).toBe(2);
  });

  test('the RTT falls back to started()..finished() on the controller clock when not given', () => {
    const { limiter, clock } = controller();
    const token = limiter.started();
    clock.advance(25);
    limiter.finished(token, { kind: 'ok' });
    expect(limiter.baselineRttMs).toBe(25);
  });
});

describe('adaptive concurrency: decrease', () => {
  /**
   * A controller that has grown to `limit` on 10 ms round trips by windows,
   * as one does once slow start is over: these tests pin the window steps.
   */
  function grownTo(limit: number, options: AdaptiveConcurrencyOptions = {}): ReturnType<typeof controller> {
    const made = controller({ max: 16, slowStart: false, ...options });
    round(made.limiter, made.clock);
    while (made.limiter.limit < limit) round(made.limiter, made.clock);
    settle(made.limiter, made.clock);
    made.changes.length = 0;
    return made;
  }

  /** A window that does not reach the limit: no growth, and the last step up is no longer in question. */
  function settle(limiter: AdaptiveConcurrency, clock: ManualClock): void {
    const token = limiter.started();
    clock.advance(10);
    limiter.finished(token, { kind: 'ok', rttMs: 10 });
  }

  test('a refusal in the window after a step up takes the step back, not ×0.75; growing back to it takes probeWindows windows', () => {
    const { limiter, clock, changes } = controller({ max: 16, slowStart: false, probeWindows: 2 });
    round(limiter, clock);
    while (limiter.limit < 7) round(limiter, clock); // the last window stepped 6 → 7
    changes.length = 0;
    const token = limiter.started();
    clock.advance(1);
    limiter.finished(token, { kind: 'overload' });
    expect(changes).toEqual([{ limit: 6, previous: 7, reason: 'overload', baselineRttMs: 10 }]);
    clock.advance(20);
    // The window that held the refusal does not grow; then two eligible windows at 6 before 7 again.
    round(limiter, clock);
    round(limiter, clock);
    expect(limiter.limit).toBe(6);
    round(limiter, clock);
    expect(limiter.limit).toBe(7);
  });

  test('a level refused again and again is probed less often: probeWindows windows, then twice, then four times as many', () => {
    const { limiter, clock, changes } = controller({ max: 16, slowStart: false, probeWindows: 2 });
    round(limiter, clock);
    while (limiter.limit < 7) round(limiter, clock); // the last window stepped 6 → 7
    /** The step to 7 is refused; then the windows it takes to step to 7 again. */
    const refuseAndCount = (): number => {
      const token = limiter.started();
      clock.advance(1);
      limiter.finished(token, { kind: 'overload' });
      expect(limiter.limit).toBe(6);
      clock.advance(20);
      round(limiter, clock); // the window that held the refusal
      let windows = 0;
      while (limiter.limit < 7) {
        round(limiter, clock);
        windows++;
      }
      return windows;
    };
    expect([refuseAndCount(), refuseAndCount(), refuseAndCount(), refuseAndCount()]).toEqual([2, 4, 8, 8]);
    // 7 held for a window: the level is known good again, 7 → 8 in one window.
    round(limiter, clock);
    expect(limiter.limit).toBe(8);
    expect(changes.filter((change) => change.reason === 'overload').map((change) => [change.previous, change.limit])).toEqual([
      [7, 6],
      [7, 6],
      [7, 6],
      [7, 6],
    ]);
  });

  test('a cut for latency goes back in one window, and does not forget a level refused below it', () => {
    const { limiter, clock } = controller({ max: 16, slowStart: false, probeWindows: 2 });
    round(limiter, clock);
    while (limiter.limit < 7) round(limiter, clock);
    for (let refusals = 0; refusals < 2; refusals++) {
      const token = limiter.started();
      clock.advance(1);
      limiter.finished(token, { kind: 'overload' }); // 7 → 6
      clock.advance(20);
      while (limiter.limit < 7) round(limiter, clock);
    }
    const token = limiter.started();
    clock.advance(1);
    limiter.finished(token, { kind: 'overload' }); // refused a second time in a row: 7 → 6
    clock.advance(20);
    round(limiter, clock);
    // The first answer of a round closes the window alone, well past the baseline: 6 → 5.
    const tokens = Array.from({ length: 6 }, () => limiter.started());
    clock.advance(10);
    tokens.forEach((each, i) => limiter.finished(each, { kind: 'ok', rttMs: i === 0 ? 30 : 10 }));
    expect(limiter.limit).toBe(5);
    const limits: number[] = [];
    while (limiter.limit < 7) {
      round(limiter, clock);
      limits.push(limiter.limit);
    }
    // The slow answer lifted the baseline just above 10 ms, so a window now spans two rounds. Back to 6
    // in one window (no plateau: latency found no level that refuses), to 7 only after four times
    // probeWindows windows (the third refusal there).
    expect(limiter.baselineRttMs).toBeGreaterThan(10);
    expect(limits).toEqual([5, ...Array<number>(16).fill(6), 7]);
  });

  test('a refusal once the step up held for a window is load: ×0.75', () => {
    const { limiter, clock, changes } = controller({ max: 16, slowStart: false });
    round(limiter, clock);
    while (limiter.limit < 8) round(limiter, clock);
    settle(limiter, clock);
    changes.length = 0;
    const token = limiter.started();
    clock.advance(1);
    limiter.finished(token, { kind: 'failure' });
    expect(changes.map((change) => [change.previous, change.limit])).toEqual([[8, 6]]);
  });

  test('a refusal of an attempt sent before the step up is load too: ×0.75', () => {
    const { limiter, clock, changes } = controller({ max: 16, slowStart: false });
    round(limiter, clock);
    while (limiter.limit < 7) round(limiter, clock);
    const before = limiter.started();
    clock.advance(10);
    round(limiter, clock); // the window ends: 7 → 8, `before` still out
    changes.length = 0;
    limiter.finished(before, { kind: 'overload' });
    expect(changes.map((change) => [change.previous, change.limit])).toEqual([[8, 6]]);
  });

  test.each(['overload', 'failure'] as const)('a %s cuts the limit by ×0.75 at once (rounded down)', (kind) => {
    const { limiter, clock, changes } = grownTo(9);
    const tokens = Array.from({ length: 9 }, () => limiter.started());
    clock.advance(1);
    limiter.finished(tokens[0]!, { kind });
    expect(limiter.limit).toBe(6);
    expect(changes).toEqual([{ limit: 6, previous: 9, reason: kind, baselineRttMs: 10 }]);
  });

  test('answers to attempts sent before the cut do not cut again', () => {
    const { limiter, clock, changes } = grownTo(8);
    const tokens = Array.from({ length: 8 }, () => limiter.started());
    clock.advance(1);
    for (const token of tokens) limiter.finished(token, { kind: 'overload' });
    expect(limiter.limit).toBe(6);
    expect(changes).toHaveLength(1);
  });

  test('at most one cut per RTT window, even for attempts sent after the cut', () => {
    const { limiter, clock, changes } = grownTo(8);
    const first = limiter.started();
    clock.advance(1);
    limiter.finished(first, { kind: 'overload' }); // 8 → 6 at t, window of 10 ms
    const during = limiter.started();
    clock.advance(1);
    limiter.finished(during, { kind: 'overload' }); // t + 2: inside the window
    expect(limiter.limit).toBe(6);
    const after = limiter.started();
    clock.advance(10);
    limiter.finished(after, { kind: 'overload' }); // t + 12: the window has passed
    expect(changes.map((change) => change.limit)).toEqual([6, 4]);
  });

  test('a slot refused after the cut stays empty until the cut window ends: no refill on every fast 429', () => {
    const { limiter, clock, changes } = grownTo(8);
    const first = limiter.started();
    clock.advance(1);
    limiter.finished(first, { kind: 'overload' }); // 8 → 6 at t, window of 10 ms
    clock.advance(0.5);
    const after = Array.from({ length: 6 }, () => limiter.started());
    clock.advance(1);
    limiter.finished(after[0]!, { kind: 'overload' });
    limiter.finished(after[1]!, { kind: 'overload' });
    // Not a second cut: the limit stays 6, but the two refused slots are not refilled.
    expect(limiter.limit).toBe(6);
    expect(limiter.inFlight).toBe(4);
    expect(limiter.hasRoom()).toBe(false);
    clock.advance(9); // t + 10.5: the window has passed
    expect(limiter.hasRoom()).toBe(true);
    expect(changes.map((change) => change.limit)).toEqual([6]);
  });

  test('a cut ends slow start too', () => {
    const { limiter, clock, changes } = grownTo(8, { slowStart: true });
    const token = limiter.started();
    clock.advance(1);
    limiter.finished(token, { kind: 'overload' });
    clock.advance(20);
    let inFlight: AttemptToken[] = [];
    for (let i = 0; i < 3; i++) inFlight = pipelinedRound(limiter, clock, inFlight);
    expect(changes.map((change) => change.reason)).not.toContain('slow-start');
  });

  test('never goes below 1', () => {
    const { limiter, clock } = controller();
    for (let i = 0; i < 5; i++) {
      const token = limiter.started();
      clock.advance(100);
      limiter.finished(token, { kind: 'overload' });
    }
    expect(limiter.limit).toBe(1);
  });

  test('RTTs well past the baseline cut by ×0.9, rounded down (−1 below 10)', () => {
    const { limiter, clock, changes } = grownTo(5);
    round(limiter, clock, 30);
    // The window that ends also holds the last 10 ms answers of the round before.
    expect(changes).toEqual([{ limit: 4, previous: 5, reason: 'latency', rttMs: expect.any(Number), baselineRttMs: 10 }]);
    expect(changes[0]!.rttMs).toBeGreaterThan(11);
  });

  test('a neutral outcome (413, our own cancel) neither grows nor cuts', () => {
    const { limiter, clock, changes } = grownTo(4);
    // Closes the window that still holds the last round's 2xx answers.
    round(limiter, clock, 10, 'neutral');
    const limit = limiter.limit;
    changes.length = 0;
    for (let i = 0; i < 5; i++) round(limiter, clock, 10, 'neutral');
    expect(limiter.limit).toBe(limit);
    expect(changes).toEqual([]);
    expect(limiter.inFlight).toBe(0);
  });

  test('after a cut, growing back to the limit that was cut takes probeWindows windows', () => {
    const { limiter, clock, changes } = grownTo(6, { probeWindows: 3 });
    const token = limiter.started();
    clock.advance(1);
    limiter.finished(token, { kind: 'overload' }); // 6 → 4, plateau 6
    clock.advance(20);
    // The first window after the cut holds the overload: no growth; then one step to 5.
    for (let rounds = 0; rounds < 4 && limiter.limit < 5; rounds++) round(limiter, clock);
    expect(limiter.limit).toBe(5);
    round(limiter, clock);
    round(limiter, clock);
    expect(limiter.limit).toBe(5);
    round(limiter, clock); // third eligible window: 5 → 6
    expect(limiter.limit).toBe(6);
    round(limiter, clock); // 6 held cleanly: the plateau lifts, 6 → 7 in one window
    expect(limiter.limit).toBe(7);
    expect(changes.map((change) => change.limit)).toEqual([4, 5, 6, 7]);
  });
});

describe('adaptive concurrency: slow start', () => {
  test('from 1, the limit doubles per round trip: one per 2xx answered near the baseline while the limit was full', () => {
    const { limiter, clock, changes } = controller({ max: 64 });
    let inFlight = pipelinedRound(limiter, clock, []);
    // The first answer sets the baseline and, with nothing to compare it with, grows the limit too:
    // waiting for a second answer at 1 cost a whole round trip.
    inFlight = pipelinedRound(limiter, clock, inFlight);
    expect(limiter.baselineRttMs).toBe(10);
    expect(limiter.limit).toBe(2);
    expect(changes).toEqual([{ limit: 2, previous: 1, reason: 'slow-start', rttMs: 10 }]);
    const limits: number[] = [];
    for (let i = 0; i < 4; i++) {
      inFlight = pipelinedRound(limiter, clock, inFlight);
      limits.push(limiter.limit);
    }
    expect(limits).toEqual([4, 8, 16, 32]);
    expect(changes.every((change) => change.reason === 'slow-start' && change.limit === change.previous + 1)).toBe(true);
    expect(changes[1]).toEqual({ limit: 3, previous: 2, reason: 'slow-start', rttMs: 10, baselineRttMs: 10 });
  });

  test('stops at the first 429: a cut to half (the level before the last doubling), and from then on one per window', () => {
    const { limiter, clock, changes } = controller({ max: 64 });
    let inFlight = pipelinedRound(limiter, clock, []);
    while (limiter.limit < 8) inFlight = pipelinedRound(limiter, clock, inFlight);
    expect(inFlight).toHaveLength(8);
    changes.length = 0;
    // The first of the eight answers is a 429: 8 → 4 at once, the limit that held a round trip ago
    // (×0.75 would leave 6). The other seven are 2xx at the baseline, with the limit full: in slow
    // start they would have grown it to 13.
    clock.advance(10);
    limiter.finished(inFlight[0]!, { kind: 'overload' });
    const next: AttemptToken[] = [];
    for (const token of inFlight.slice(1)) {
      limiter.finished(token, { kind: 'ok', rttMs: 10 });
      while (limiter.hasRoom()) next.push(limiter.started());
    }
    expect(changes.map((change) => [change.previous, change.limit, change.reason])).toEqual([[8, 4, 'overload']]);
    changes.length = 0;
    // Round trips of clean answers at the limit, one window each: one step per window, and four
    // windows at 7 to get back to 8, the limit cut (the probe plateau); then one per window.
    inFlight = next;
    const limits: number[] = [];
    for (let i = 0; i < 10; i++) {
      inFlight = pipelinedRound(limiter, clock, inFlight);
      limits.push(limiter.limit);
    }
    expect(limits).toEqual([5, 6, 7, 7, 7, 7, 8, 9, 10, 11]);
    expect(changes.every((change) => change.reason === 'increase' && change.limit === change.previous + 1)).toBe(true);
  });

  test('an answer well past the baseline ends slow start without a cut; the window then decides', () => {
    const { limiter, clock, changes } = controller({ max: 64 });
    let inFlight = pipelinedRound(limiter, clock, []);
    while (limiter.limit < 4) inFlight = pipelinedRound(limiter, clock, inFlight);
    expect(limiter.limit).toBe(4);
    changes.length = 0;
    // One answer of the four at 15 ms (1.5× the baseline: past 1.4×), the others at 10 ms. Not the
    // first: that one closes a window of one or two answers, whose mean would be well past too.
    inFlight = pipelinedRound(limiter, clock, inFlight, (i) => (i === 1 ? 15 : 10));
    // The first answer still grew it; the second ended slow start, with no cut; the last two did nothing.
    expect(changes.map((change) => [change.previous, change.limit, change.reason])).toEqual([[4, 5, 'slow-start']]);
    changes.length = 0;
    // From then on one per window, however many answers: the window holding the 15 ms answer (mean
    // 11.25 ms) is neither near nor well past and lifts the baseline to 10.5 ms, so later windows
    // span two 10 ms rounds. Six rounds: three windows, the first of them without growth.
    for (let i = 0; i < 6; i++) inFlight = pipelinedRound(limiter, clock, inFlight);
    expect(changes.map((change) => [change.previous, change.limit, change.reason])).toEqual([
      [5, 6, 'increase'],
      [6, 7, 'increase'],
    ]);
  });

  test('the first refusal halves the limit even when a slow answer ended slow start before it', () => {
    const { limiter, clock, changes } = controller({ max: 64 });
    let inFlight = pipelinedRound(limiter, clock, []);
    while (limiter.limit < 4) inFlight = pipelinedRound(limiter, clock, inFlight);
    // 4 → 5 on the first answer, then a slow one ends slow start (as in the test above) …
    inFlight = pipelinedRound(limiter, clock, inFlight, (i) => (i === 1 ? 15 : 10));
    expect(limiter.limit).toBe(5);
    changes.length = 0;
    // … and the 429s of the doubling come back only now (a busy client reads them late).
    clock.advance(1);
    limiter.finished(inFlight[0]!, { kind: 'overload' });
    expect(changes.map((change) => [change.previous, change.limit, change.reason])).toEqual([[5, 2, 'overload']]);
  });

  test('an answer above the baseline but not well past it neither grows the limit nor ends slow start', () => {
    const { limiter, clock, changes } = controller({ max: 64 });
    let inFlight = pipelinedRound(limiter, clock, []);
    while (limiter.limit < 4) inFlight = pipelinedRound(limiter, clock, inFlight);
    changes.length = 0;
    // 1.3×: past a single answer's near (1.2×), short of its well past (1.4×).
    inFlight = pipelinedRound(limiter, clock, inFlight, () => 13);
    expect(changes).toEqual([]);
    pipelinedRound(limiter, clock, inFlight);
    expect(limiter.limit).toBe(8);
    expect(changes.every((change) => change.reason === 'slow-start')).toBe(true);
  });

  test('no growth when the limit was not reached: answers that came back with slots free say nothing', () => {
    const { limiter, clock, changes } = controller({ max: 8, initial: 4 });
    for (let i = 0; i < 6; i++) {
      // Three at a time under a limit of 4, at the baseline.
      const tokens = [limiter.started(), limiter.started(), limiter.started()];
      clock.advance(10);
      for (const token of tokens) limiter.finished(token, { kind: 'ok', rttMs: 10 });
    }
    expect(limiter.limit).toBe(4);
    expect(changes).toEqual([]);
  });

  test('never above max', () => {
    const { limiter, clock, changes } = controller({ max: 5 });
    let inFlight: AttemptToken[] = [];
    for (let i = 0; i < 8; i++) inFlight = pipelinedRound(limiter, clock, inFlight);
    expect(limiter.limit).toBe(5);
    expect(changes.map((change) => change.limit)).toEqual([2, 3, 4, 5]);
  });

  test('slowStart must be a boolean', () => {
    expect(() => new AdaptiveConcurrency({ slowStart: 'yes' as unknown as boolean })).toThrow(TypeError);
    expect(() => new AdaptiveConcurrency({ slowStart: 'yes' as unknown as boolean })).toThrow(/slowStart/);
  });
});

describe('adaptive concurrency: slots', () => {
  test('acquire() waits for room and serves waiters by order, then arrival', async () => {
    const { limiter } = controller({ initial: 1 });
    const first = await limiter.acquire();
    const served: string[] = [];
    const later = limiter.acquire({ order: 5 }).then((token) => (served.push('5'), token));
    const sooner = limiter.acquire({ order: 2 }).then((token) => (served.push('2'), token));
    const tie = limiter.acquire({ order: 2 }).then((token) => (served.push('2b'), token));
    limiter.finished(first, { kind: 'neutral' });
    limiter.finished(await sooner, { kind: 'neutral' });
    limiter.finished(await tie, { kind: 'neutral' });
    limiter.finished(await later, { kind: 'neutral' });
    expect(served).toEqual(['2', '2b', '5']);
    expect(limiter.inFlight).toBe(0);
  });

  test('an increase wakes waiters at once', async () => {
    const { limiter, clock } = controller({ max: 4, slowStart: false });
    round(limiter, clock); // baseline
    const held = limiter.started();
    const waiting = limiter.acquire();
    // A window ends with the limit reached and a 2xx near the baseline: 1 → 2.
    const probe = limiter.started();
    clock.advance(10);
    limiter.finished(probe, { kind: 'ok', rttMs: 10 });
    expect(limiter.limit).toBe(2);
    await expect(waiting).resolves.toHaveProperty('startedAt');
    limiter.finished(held, { kind: 'neutral' });
  });

  test('an aborted acquire() rejects with the reason and leaves the queue', async () => {
    const { limiter } = controller();
    const held = limiter.started();
    const controllerSignal = new AbortController();
    const waiting = limiter.acquire({ signal: controllerSignal.signal });
    controllerSignal.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
    limiter.finished(held, { kind: 'neutral' });
    expect(limiter.inFlight).toBe(0);
    await expect(limiter.acquire({ signal: AbortSignal.abort(new Error('already')) })).rejects.toThrow('already');
  });

  test('close() rejects pending and later acquire() calls', async () => {
    const { limiter } = controller();
    limiter.started();
    const waiting = limiter.acquire();
    limiter.close(new Error('upload over'));
    await expect(waiting).rejects.toThrow('upload over');
    await expect(limiter.acquire()).rejects.toThrow('upload over');
  });

  test('a token given back twice frees one slot', () => {
    const { limiter } = controller({ initial: 2, max: 2 });
    const token = limiter.started();
    limiter.started();
    limiter.finished(token, { kind: 'ok', rttMs: 1 });
    limiter.finished(token, { kind: 'ok', rttMs: 1 });
    expect(limiter.inFlight).toBe(1);
  });
});

describe('fixed concurrency', () => {
  test('keeps its limit whatever happens, behind the same interface', async () => {
    const limiter = createConcurrencyLimiter(3);
    expect(limiter).toBeInstanceOf(FixedConcurrency);
    expect([limiter.limit, limiter.max, limiter.adaptive]).toEqual([3, 3, false]);
    const tokens = [await limiter.acquire(), await limiter.acquire(), await limiter.acquire()];
    expect(limiter.hasRoom()).toBe(false);
    let fourth: AttemptToken | undefined;
    const waiting = limiter.acquire().then((token) => (fourth = token));
    for (const token of tokens) limiter.finished(token, { kind: 'overload' });
    await waiting;
    expect(limiter.limit).toBe(3);
    limiter.finished(fourth!, { kind: 'ok', rttMs: 1 });
    expect(limiter.inFlight).toBe(0);
  });

  test("'auto' builds the adaptive controller; bad numbers are refused", () => {
    expect(createConcurrencyLimiter('auto', { max: 4 })).toBeInstanceOf(AdaptiveConcurrency);
    expect(() => new FixedConcurrency(0)).toThrow(RangeError);
    expect(() => new AdaptiveConcurrency({ max: 0 })).toThrow(/max/);
    expect(() => new AdaptiveConcurrency({ max: 2, initial: 3 })).toThrow(/initial/);
    expect(() => new AdaptiveConcurrency({ overloadDecrease: 1 })).toThrow(/overloadDecrease/);
    expect(() => new AdaptiveConcurrency({ rttTolerance: 0 })).toThrow(/rttTolerance/);
  });
});

describe('classifyAttempt', () => {
  test.each([
    [{ statusCode: 200 }, 'ok'],
    [{ statusCode: 204 }, 'ok'],
    [{ statusCode: 429 }, 'overload'],
    [{ statusCode: 503 }, 'overload'],
    [{ statusCode: 500 }, 'failure'],
    [{ statusCode: 502 }, 'failure'],
    [{ statusCode: 504 }, 'failure'],
    [{ statusCode: 408 }, 'failure'],
    [{ statusCode: 413 }, 'neutral'],
    [{ statusCode: 401 }, 'neutral'],
    [{ statusCode: 307 }, 'neutral'],
    [{ errorCode: 'ETIMEDOUT' }, 'failure'],
    [{ errorCode: 'ECONNRESET' }, 'failure'],
    [{ errorCode: 'ECONNREFUSED' }, 'failure'],
    [{ errorCode: 'ERR_CANCELED' }, 'neutral'],
    [{ errorCode: 'ABORT_ERR' }, 'neutral'],
  ] as const)('%j is %s', (answer, kind) => {
    expect(classifyAttempt(answer)).toBe(kind);
  });
});

describe('adaptive concurrency: properties', () => {
  type Step = { op: 'start' } | { op: 'finish'; pick: number; kind: AttemptKind; rtt: number } | { op: 'wait'; ms: number };
  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.constant<Step>({ op: 'start' }),
    fc.record({
      op: fc.constant('finish' as const),
      pick: fc.nat(),
      kind: fc.constantFrom<AttemptKind>('ok', 'ok', 'ok', 'overload', 'failure', 'neutral'),
      rtt: fc.double({ min: 0, max: 1000, noNaN: true }),
    }),
    fc.record({ op: fc.constant('wait' as const), ms: fc.nat({ max: 200 }) }),
  );

  test('the limit stays within [1, max], grows by exactly one, only cuts downward, and in-flight counts are exact', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 32 }), fc.array(step, { maxLength: 300 }), (max, steps) => {
        const { limiter, clock, changes } = controller({ max });
        const open: AttemptToken[] = [];
        for (const each of steps) {
          if (each.op === 'start') open.push(limiter.started());
          else if (each.op === 'wait') clock.advance(each.ms);
          else if (open.length > 0) {
            const [token] = open.splice(each.pick % open.length, 1);
            limiter.finished(token!, { kind: each.kind, rttMs: each.rtt });
          }
          expect(limiter.limit).toBeGreaterThanOrEqual(1);
          expect(limiter.limit).toBeLessThanOrEqual(max);
          expect(limiter.inFlight).toBe(open.length);
        }
        for (const change of changes) {
          if (change.reason === 'increase' || change.reason === 'slow-start') expect(change.limit).toBe(change.previous + 1);
          else expect(change.limit).toBeLessThan(change.previous);
        }
      }),
    );
  });

  test('two cuts for load are at least one baseline RTT apart', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 300 }), (steps) => {
        const clock = manualClock();
        const cuts: Array<{ at: number; baseline: number }> = [];
        const limiter: AdaptiveConcurrency = new AdaptiveConcurrency({
          max: 16,
          initial: 16,
          now: clock.now,
          onChange: (change) => {
            if (change.reason !== 'increase' && change.reason !== 'slow-start') cuts.push({ at: clock.now(), baseline: change.baselineRttMs ?? 0 });
          },
        });
        const open: AttemptToken[] = [];
        for (const each of steps) {
          if (each.op === 'start') open.push(limiter.started());
          else if (each.op === 'wait') clock.advance(each.ms);
          else if (open.length > 0) limiter.finished(open.splice(each.pick % open.length, 1)[0]!, { kind: each.kind, rttMs: each.rtt });
        }
        for (let i = 1; i < cuts.length; i++) expect(cuts[i]!.at - cuts[i - 1]!.at).toBeGreaterThanOrEqual(cuts[i - 1]!.baseline);
      }),
    );
  });
});

describe('adaptive concurrency: slow start bounded by the answers received', () => {
  /**
   * A busy client against a server of capacity 4: the limiter counts every
   * attempt it started as in flight, but only four a round trip reach the
   * server and come back (the rest wait for the client's CPU). Each answer is
   * a 2xx at the baseline with the limit "full".
   */
  test('the limit stays within twice the answers received per round trip, not one more per answer', () => {
    const { limiter, clock } = controller({ max: 64 });
    const waiting: AttemptToken[] = [];
    const fill = (): void => {
      while (limiter.hasRoom()) waiting.push(limiter.started());
    };
    fill();
    for (let round = 0; round < 12; round++) {
      // Four answers a round trip of 10 ms, 2.5 ms apart; the attempts behind them are still queued here.
      for (let i = 0; i < 4 && waiting.length > 0; i++) {
        clock.advance(2.5);
        limiter.finished(waiting.shift()!, { kind: 'ok', rttMs: 10 });
        fill();
      }
    }
    // At most twice the answers of one round trip (5 with both its ends, 2.5 ms apart): without
    // the bound, one more per answer took it to 48.
    expect(limiter.limit).toBeLessThanOrEqual(10);
    expect(limiter.limit).toBeGreaterThanOrEqual(4);
  });
});

describe("adaptive concurrency: raised back after slow start's halving", () => {
  /**
   * Slow start ran to 8 against a server of capacity 6: eight attempts in flight (sent at levels
   * 1–8), the baseline 20 ms. The 7th is refused within 4 ms; the 2xx of the others take the
   * server's 20 ms, so at the halving only the levels up to 4 are confirmed.
   */
  function overshotTo8(): { limiter: AdaptiveConcurrency; clock: ManualClock; changes: LimitChange[]; tokens: AttemptToken[] } {
    const made = controller({ max: 8, initial: 8 });
    round(made.limiter, made.clock, 20); // the baseline (at max: no growth)
    const tokens = Array.from({ length: 8 }, () => made.limiter.started());
    made.clock.advance(4);
    made.limiter.finished(tokens[6]!, { kind: 'overload' });
    expect(made.limiter.limit).toBe(4);
    made.changes.length = 0;
    return { ...made, tokens };
  }

  test('2xx answers of attempts sent before the cut raise it to the level they confirm, below the level refused', () => {
    const { limiter, clock, changes, tokens } = overshotTo8();
    clock.advance(16);
    // Levels 1–6 answered 2xx: the server held 6. The 8th came back 2xx too, but 7 was refused.
    for (const i of [0, 1, 2, 3, 4, 5, 7]) limiter.finished(tokens[i]!, { kind: 'ok', rttMs: 20 });
    expect(changes.map((change) => [change.previous, change.limit, change.reason])).toEqual([
      [4, 5, 'confirmed'],
      [5, 6, 'confirmed'],
    ]);
    // 7 was refused: a step back to it waits `probeWindows` (4) clean windows, as after a refused step up.
    changes.length = 0;
    for (let i = 0; i < 5; i++) round(limiter, clock, 20);
    expect(changes.map((change) => [change.previous, change.limit, change.reason])).toEqual([[6, 7, 'increase']]);
  });

  test('no higher than the limit cut less the attempts refused: a level counts answers still on their way back', () => {
    const { limiter, clock, changes } = controller({ max: 8, initial: 8 });
    round(limiter, clock, 20); // the baseline
    const tokens = Array.from({ length: 8 }, () => limiter.started());
    // One answer frees a slot, refilled at once: a second attempt sent at 8 in flight.
    clock.advance(2);
    limiter.finished(tokens[0]!, { kind: 'ok', rttMs: 20 });
    const refill = limiter.started();
    // Refused at 8, 8 and 7: the lowest level refused says 6 held, but of the 8 only 5 were served.
    clock.advance(2);
    for (const token of [refill, tokens[7]!, tokens[6]!]) limiter.finished(token, { kind: 'overload' });
    clock.advance(16);
    for (const token of tokens.slice(1, 6)) limiter.finished(token, { kind: 'ok', rttMs: 20 });
    expect(changes.map((change) => [change.previous, change.limit, change.reason])).toEqual([
      [8, 4, 'overload'],
      [4, 5, 'confirmed'],
    ]);
  });

  test('a 2xx read before the 429s of attempts sent earlier: those not answered yet may still be refusals', () => {
    const { limiter, clock, changes, tokens } = overshotTo8(); // the 7th refused: 8 → 4
    clock.advance(16);
    // A busy client reads the 2xx of the first four and of the 8th before the 429s of the 5th and 6th:
    // 8 − 1 refused − 2 not answered = 5, not 6 (the level below the lowest refused).
    for (const i of [0, 1, 2, 3, 7]) limiter.finished(tokens[i]!, { kind: 'ok', rttMs: 20 });
    for (const i of [4, 5]) limiter.finished(tokens[i]!, { kind: 'overload' });
    expect(changes.map((change) => [change.previous, change.limit, change.reason])).toEqual([[4, 5, 'confirmed']]);
  });

  test('to the highest level answered 2xx, even when a lower one comes back last', () => {
    const { limiter, clock, changes, tokens } = overshotTo8(); // the 7th refused: 8 → 4
    limiter.finished(tokens[7]!, { kind: 'overload' });
    clock.advance(16);
    // The 6th's 2xx before the 5th's: at the 6th one attempt is still out (5 at most); at the 5th none.
    for (const i of [0, 1, 2, 3, 5, 4]) limiter.finished(tokens[i]!, { kind: 'ok', rttMs: 20 });
    expect(changes.map((change) => [change.previous, change.limit, change.reason])).toEqual([
      [4, 5, 'confirmed'],
      [5, 6, 'confirmed'],
    ]);
  });

  test('only within the window of the cut, and never to a level refused since', () => {
    const late = overshotTo8();
    // The 2xx come back after the cut's window (one baseline, 20 ms) ended: the server may have changed since.
    late.clock.advance(21);
    for (const i of [0, 1, 2, 3, 4, 5]) late.limiter.finished(late.tokens[i]!, { kind: 'ok', rttMs: 25 });
    expect(late.changes.filter((change) => change.reason === 'confirmed')).toEqual([]);

    const lower = overshotTo8();
    // The attempt sent 6th is refused as well: the server held 5 at most.
    lower.limiter.finished(lower.tokens[5]!, { kind: 'overload' });
    lower.clock.advance(16);
    for (const i of [0, 1, 2, 3, 4, 7]) lower.limiter.finished(lower.tokens[i]!, { kind: 'ok', rttMs: 20 });
    expect(lower.changes.map((change) => [change.previous, change.limit, change.reason])).toEqual([[4, 5, 'confirmed']]);
  });
});
