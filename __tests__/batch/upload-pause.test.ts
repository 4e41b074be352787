import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { UploadPause } from '../../lib/http/upload-pause.js';
import { manualClock, type ManualClock, type ManualTimer } from '../helpers/manual-clock.js';
import { watchTimers } from '../helpers/timers.js';

function pauseOn(clock: ManualClock): UploadPause {
  return new UploadPause({ now: clock.now, setTimer: clock.setTimer, clearTimer: (timer) => clock.clearTimer(timer as ManualTimer) });
}

/** Settles pending promise callbacks (not a sleep: no time passes on any clock). */
const settled = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

/** Tracks whether a promise has settled, and how. */
function track(promise: Promise<void>): { state: 'pending' | 'open' | 'rejected'; reason?: unknown } {
  const tracked: { state: 'pending' | 'open' | 'rejected'; reason?: unknown } = { state: 'pending' };
  promise.then(
    () => (tracked.state = 'open'),
    (reason: unknown) => Object.assign(tracked, { state: 'rejected', reason }),
  );
  return tracked;
}

describe('upload pause: one clock for Retry-After', () => {
  test('pauseForAndWait() reads the clock once: the timer the told waiter arms is exactly the pause asked for', async () => {
    // A clock that moves 3 ms at every reading, as a descheduled process would see it.
    let time = 0;
    const armed: number[] = [];
    const pause = new UploadPause({ now: () => (time += 3), setTimer: (_callback, ms) => armed.push(ms), clearTimer: () => {} });
    const waiting = track(pause.pauseForAndWait(1000));
    expect(armed).toEqual([1000]);
    expect(pause.pausedUntil).toBe(1003);
    await settled();
    expect(waiting.state).toBe('pending');
    pause.close(new Error('over'));
    await settled();
    expect(waiting.state).toBe('rejected');
  });

  test('the timer is the pause asked for also where now + ms - now is not ms in floating point', () => {
    // At this clock reading (2768.4423 + 30000) - 2768.4423 is 30000.000000000004: rounded up, it was 30001.
    expect(2768.4423 + 30_000 - 2768.4423).not.toBe(30_000);
    const armed: number[] = [];
    const pause = new UploadPause({ now: () => 2768.4423, setTimer: (_callback, ms) => armed.push(ms), clearTimer: () => {} });
    void pause.pauseForAndWait(30_000).catch(() => {});
    expect(armed).toEqual([30_000]);
    pause.close();
  });

  test('open until paused; whenOpen() resolves at once when open', async () => {
    const clock = manualClock();
    const pause = pauseOn(clock);
    expect(pause.paused).toBe(false);
    await expect(pause.whenOpen()).resolves.toBeUndefined();
    expect(clock.pending()).toEqual([]);
  });

  test('pauseUntil() takes a time on the pause’s own clock', () => {
    const clock = manualClock(500);
    const pause = pauseOn(clock);
    expect(pause.now()).toBe(500);
    pause.pauseUntil(pause.now() + 250);
    expect([pause.paused, pause.pausedUntil]).toEqual([true, 750]);
    clock.advance(250);
    expect([pause.paused, pause.pausedUntil]).toEqual([false, undefined]);
  });

  test('every waiter opens at the same moment, with one timer', async () => {
    const clock = manualClock();
    const pause = pauseOn(clock);
    pause.pauseFor(3000);
    const waiters = [track(pause.whenOpen()), track(pause.whenOpen()), track(pause.whenOpen())];
    expect(clock.pending()).toEqual([3000]);
    clock.advance(2999);
    await settled();
    expect(waiters.map((each) => each.state)).toEqual(['pending', 'pending', 'pending']);
    clock.advance(1);
    await settled();
    expect(waiters.map((each) => each.state)).toEqual(['open', 'open', 'open']);
    expect(clock.pending()).toEqual([]);
    expect(pause.paused).toBe(false);
  });

  test('a later Retry-After extends the pause; an earlier one does not shorten it', async () => {
    const clock = manualClock();
    const pause = pauseOn(clock);
    pause.pauseFor(1000);
    const waiter = track(pause.whenOpen());
    pause.pauseFor(500); // shorter: ignored
    expect(pause.pausedUntil).toBe(1000);
    clock.advance(400);
    pause.pauseFor(2000); // now until 2400
    expect(clock.pending()).toHaveLength(1);
    clock.advance(600); // the first timer fires at 1000 and re-arms for the rest
    await settled();
    expect(waiter.state).toBe('pending');
    expect(clock.pending()).toEqual([2400]);
    clock.advance(1400);
    await settled();
    expect(waiter.state).toBe('open');
    expect(clock.pending()).toEqual([]);
  });

  test('no timer while nobody waits, and none left when the last waiter aborts', async () => {
    const clock = manualClock();
    const pause = pauseOn(clock);
    pause.pauseFor(60_000);
    expect(clock.pending()).toEqual([]);
    const abort = new AbortController();
    const waiter = track(pause.whenOpen(abort.signal));
    expect(pause.timerArmed).toBe(true);
    abort.abort(new Error('aborted'));
    await settled();
    expect(waiter).toMatchObject({ state: 'rejected', reason: new Error('aborted') });
    expect(clock.pending()).toEqual([]);
    expect(pause.timerArmed).toBe(false);
    await expect(pause.whenOpen(AbortSignal.abort(new Error('already')))).rejects.toThrow('already');
  });

  test('close() clears the timer and rejects pending and later waiters', async () => {
    const clock = manualClock();
    const pause = pauseOn(clock);
    pause.pauseFor(30_000);
    const waiter = track(pause.whenOpen());
    pause.close(new Error('upload over'));
    await settled();
    expect(waiter).toMatchObject({ state: 'rejected', reason: new Error('upload over') });
    expect(clock.pending()).toEqual([]);
    await expect(pause.whenOpen()).rejects.toThrow('upload over');
    pause.pauseFor(1000); // after close: nothing armed
    expect(clock.pending()).toEqual([]);
  });

  test('with the real timers: opens, and leaves no timer behind after close()', async () => {
    const timers = watchTimers();
    try {
      const pause = new UploadPause();
      pause.pauseFor(1);
      await pause.whenOpen();
      expect(timers.pending()).toEqual([]);
      pause.pauseFor(60_000);
      const waiting = pause.whenOpen();
      expect(timers.pending()).toEqual([60_000]);
      pause.close();
      await expect(waiting).rejects.toThrow('closed');
      expect(timers.pending()).toEqual([]);
    } finally {
      timers.restore();
    }
  });

  test('property: whatever the pauses and waits, a waiter never opens before its pause ends and always once the latest one has, with at most one timer', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ at: fc.nat({ max: 5000 }), pause: fc.nat({ max: 5000 }), wait: fc.boolean() }), { maxLength: 20 }),
        async (events) => {
          const clock = manualClock();
          const pause = pauseOn(clock);
          let until = Number.NEGATIVE_INFINITY;
          const waiters: Array<{ tracked: ReturnType<typeof track>; opensAt: number }> = [];
          for (const event of [...events].sort((a, b) => a.at - b.at)) {
            clock.advance(event.at - clock.now());
            await settled();
            for (const each of waiters) {
              // Never early; and once the latest pause has passed, every waiter is open.
              if (each.tracked.state === 'open') expect(clock.now()).toBeGreaterThanOrEqual(each.opensAt);
              if (clock.now() >= until) expect(each.tracked.state).toBe('open');
            }
            pause.pauseFor(event.pause);
            until = Math.max(until, clock.now() + event.pause);
            if (event.wait) waiters.push({ tracked: track(pause.whenOpen()), opensAt: until });
            expect(clock.pending().length).toBeLessThanOrEqual(1);
          }
          clock.advance(20_000);
          await settled();
          for (const each of waiters) expect(each.tracked.state).toBe('open');
          expect(clock.pending()).toEqual([]);
        },
      ),
    );
  });
});
