/**
 * The clock the retry engine reads and sets its backoff timers on. Real time
 * unless a test installs a manual one: a budget of minutes is then tested
 * against a real server without minutes passing.
 */
export interface RetryClock {
  /** Milliseconds, monotonic. */
  now(): number;
  setTimer(callback: () => void, ms: number): unknown;
  clearTimer(timer: unknown): void;
}

export const systemClock: RetryClock = {
  now: () => performance.now(),
  setTimer: (callback, ms) => setTimeout(callback, ms),
  clearTimer: (timer) => clearTimeout(timer as NodeJS.Timeout),
};

let installed: RetryClock = systemClock;

/** The clock retries use when none is passed to them. */
export function retryClock(): RetryClock {
  return installed;
}

/** For tests: makes `clock` the retry engine's clock until called again without one. Not exported by the package. */
export function installRetryClock(clock: RetryClock = systemClock): void {
  installed = clock;
}
