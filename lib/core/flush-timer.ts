/**
 * The `flushInterval` timer: bytes that wait are sent at most this long after
 * the first of them arrived, even when no buffer fills. Started by the first
 * byte that waits, cleared when the bytes leave; `fire` sends what waits.
 */
export class FlushTimer {
  readonly #interval: number | undefined;
  readonly #fire: () => void;
  #timer: NodeJS.Timeout | undefined;

  constructor(interval: number | undefined, fire: () => void) {
    this.#interval = interval;
    this.#fire = fire;
  }

  /** Starts the timer unless it runs already (or there is no interval). */
  start(): void {
    if (this.#interval === undefined || this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#fire();
    }, this.#interval);
  }

  clear(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
