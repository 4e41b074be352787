/**
 * Watches the timers armed with the global `setTimeout` while it is installed:
 * the library's and got's (they run in the test file's realm), not jest's own,
 * not Node's internal ones, and not those of other test files.
 *
 * This is how a test proves that an abort cleared a timer. A process-wide count
 * (`process.getActiveResourcesInfo()`) cannot: it also sees timers that are
 * not the upload's and come and go on their own, such as the 100 ms timer
 * @tus/server arms when a request asks another for the upload's lock
 * (lockDrainTimeout), which outlives the test that caused it; or those of
 * another test file that ran before in the same jest worker.
 *
 *   const timers = watchTimers();
 *   try {
 *     void timers.armed((ms) => ms === 30_000).then(() => controller.abort());
 *     ...
 *     expect(timers.pending()).toEqual([]);
 *   } finally {
 *     timers.restore();
 *   }
 */
export interface TimerWatch {
  /**
   * Resolves with the delay of the first timer armed from now on that `match`
   * accepts. Settled in a microtask, so what it triggers runs once the code
   * that armed the timer has stored it (ready to clear it).
   */
  armed(match?: (ms: number) => boolean): Promise<number>;
  /** The delays of the watched timers that have neither fired nor been cleared. */
  pending(): number[];
  /** Puts the global `setTimeout` and `clearTimeout` back. */
  restore(): void;
}

export function watchTimers(): TimerWatch {
  const realSetTimeout = globalThis.setTimeout;
  const realClearTimeout = globalThis.clearTimeout;
  const pending = new Map<NodeJS.Timeout, number>();
  const waiters = new Set<{ match: (ms: number) => boolean; resolve: (ms: number) => void }>();

  const watchedSetTimeout = (callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]): NodeJS.Timeout => {
    const timer = realSetTimeout(() => {
      pending.delete(timer);
      callback(...args);
    }, ms);
    const delay = ms ?? 0;
    pending.set(timer, delay);
    for (const waiter of waiters) {
      if (!waiter.match(delay)) continue;
      waiters.delete(waiter);
      waiter.resolve(delay);
    }
    return timer;
  };
  const watchedClearTimeout = (timer: NodeJS.Timeout | string | number | undefined): void => {
    if (typeof timer === 'object') pending.delete(timer);
    realClearTimeout(timer);
  };
  globalThis.setTimeout = watchedSetTimeout as typeof setTimeout;
  globalThis.clearTimeout = watchedClearTimeout as typeof clearTimeout;

  return {
    armed: (match = () => true) => new Promise((resolve) => waiters.add({ match, resolve })),
    pending: () => [...pending.values()],
    restore: () => {
      globalThis.setTimeout = realSetTimeout;
      globalThis.clearTimeout = realClearTimeout;
    },
  };
}
