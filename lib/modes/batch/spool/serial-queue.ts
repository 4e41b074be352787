/**
 * Runs tasks one after another, each after the previous one settled: the
 * spool keeps one per kind of work (appends, batch reads, journal writes) so
 * each kind stays in order while the kinds overlap. A failed task does not
 * block the ones behind it.
 */
export class SerialQueue {
  /** The last task queued, settled either way: the next one waits for it. */
  #tail: Promise<unknown> = Promise.resolve();
  #closed = false;
  readonly #failure: (error: unknown) => unknown;

  /** `failure` turns what a task threw into what the caller sees. */
  constructor(failure: (error: unknown) => unknown) {
    this.#failure = failure;
  }

  /** Runs `task` after the tasks queued before it; once closed, refuses. */
  run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new Error('Spool is closed'));
    const run = this.#tail.then(task).catch((error: unknown) => {
      throw this.#failure(error);
    });
    this.#tail = run.catch(() => {});
    return run;
  }

  /** Refuses new tasks; resolves when the ones already queued have settled. */
  close(): Promise<unknown> {
    this.#closed = true;
    return this.#tail;
  }
}
