/**
 * A clock and timer pair that only moves when the test says so: components
 * that take `now`/`setTimer`/`clearTimer` are driven step by step, with no
 * real time passing and nothing to wait for.
 */
export interface ManualClock {
  now(): number;
  /** Moves time forward, firing every timer due on the way, in order. */
  advance(ms: number): void;
  setTimer(callback: () => void, ms: number): ManualTimer;
  clearTimer(timer: ManualTimer): void;
  /** Due times of the timers neither fired nor cleared. */
  pending(): number[];
  /** Resolves with the next timer set from now on (code waiting on this clock). */
  armed(): Promise<ManualTimer>;
}

export interface ManualTimer {
  readonly due: number;
}

export function manualClock(start = 0): ManualClock {
  let time = start;
  const timers = new Map<ManualTimer, () => void>();
  const waiters: Array<(timer: ManualTimer) => void> = [];
  return {
    now: () => time,
    advance(ms) {
      const end = time + ms;
      for (;;) {
        const next = [...timers.keys()].filter((timer) => timer.due <= end).sort((a, b) => a.due - b.due)[0];
        if (!next) break;
        time = Math.max(time, next.due);
        const callback = timers.get(next)!;
        timers.delete(next);
        callback();
      }
      time = end;
    },
    setTimer(callback, ms) {
      const timer: ManualTimer = { due: time + Math.max(0, ms) };
      timers.set(timer, callback);
      for (const waiter of waiters.splice(0)) waiter(timer);
      return timer;
    },
    clearTimer(timer) {
      timers.delete(timer);
    },
    pending: () => [...timers.keys()].map((timer) => timer.due),
    armed: () => new Promise((resolve) => waiters.push(resolve)),
  };
}
