import type { BufferedHttpWritable, ProgressSnapshot } from '../lib/index.js';

/** What the stall clock asks of an upload: the Writable, or the promise `uploadFile` returns. */
export type WatchedUpload = Pick<BufferedHttpWritable, 'waitingOnNetwork'>;

/** The upload was ended by `--max-time` or `--stall-timeout`: a failed upload (exit 1), not an interruption. */
export class UploadTimeoutError extends Error {
  override name = 'UploadTimeoutError';
}

/**
 * The CLI's clocks, which end an upload by aborting its signal with an
 * `UploadTimeoutError` as the reason: `--max-time` for the whole run, and
 * `--stall-timeout` for an upload that stopped moving. got has no timeout of
 * its own by default, and a server that accepts and never answers would
 * otherwise hold `bhw` forever.
 */
export class Watchdog {
  readonly #aborter: AbortController;
  readonly #timers: NodeJS.Timeout[] = [];

  constructor(aborter: AbortController) {
    this.#aborter = aborter;
  }

  /** `--max-time`: from now until the last answer. */
  limitTotal(ms: number): void {
    this.#timers.push(setTimeout(() => this.#abort(`the upload took longer than --max-time ${seconds(ms)} s`), ms));
  }

  /**
   * `--stall-timeout`: the clock restarts whenever a byte is sent or
   * acknowledged (feed it every progress snapshot through the returned
   * function: a Writable's `'progress'` events or `uploadFile`'s
   * `onProgress`), and ends the upload only while the library says it waits
   * on the network (`waitingOnNetwork`): a buffer the socket has not taken,
   * a request not answered, the final answer. A producer that is merely
   * quiet (a log tail on stdin) is not a stall: everything written has gone
   * out and nothing is owed back yet. Counters cannot tell these apart:
   * `bytesSent` counts a buffer when it is handed over, and the end of a
   * pipe leaves no trace in them.
   */
  watchStalls(ms: number, upload: WatchedUpload): (progress: ProgressSnapshot) => void {
    let sent = 0;
    let acknowledged = 0;
    const timer = setTimeout(() => {
      if (upload.waitingOnNetwork) this.#abort(`no byte sent or acknowledged for ${seconds(ms)} s (--stall-timeout ${seconds(ms)}; 0 turns it off)`);
      else timer.refresh();
    }, ms);
    this.#timers.push(timer);
    return (progress) => {
      if (progress.bytesSent === sent && progress.bytesAcknowledged === acknowledged) return;
      sent = progress.bytesSent;
      acknowledged = progress.bytesAcknowledged;
      timer.refresh();
    };
  }

  /** The reason the upload was ended, if a clock ended it. */
  get timedOut(): UploadTimeoutError | undefined {
    const reason: unknown = this.#aborter.signal.reason;
    return reason instanceof UploadTimeoutError ? reason : undefined;
  }

  stop(): void {
    for (const timer of this.#timers.splice(0)) clearTimeout(timer);
  }

  #abort(message: string): void {
    this.stop();
    if (!this.#aborter.signal.aborted) this.#aborter.abort(new UploadTimeoutError(message));
  }
}

function seconds(ms: number): string {
  return String(ms / 1000);
}
