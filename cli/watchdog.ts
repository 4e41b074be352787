import type { BufferedHttpWritable, ProgressSnapshot, UploadMode } from '../lib/index.js';

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
   * `onProgress`), and ends the upload only while `waitingOnNetwork()` says
   * it waits on the network. A producer that is merely quiet (a log tail on
   * stdin) is not a stall: everything written has gone out and nothing is
   * owed back yet.
   */
  watchStalls(ms: number, waitingOnNetwork: () => boolean): (progress: ProgressSnapshot) => void {
    let sent = 0;
    let acknowledged = 0;
    const timer = setTimeout(() => {
      if (waitingOnNetwork()) this.#abort(`no byte sent or acknowledged for ${seconds(ms)} s (--stall-timeout ${seconds(ms)}; 0 turns it off)`);
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

/**
 * Whether the upload is held up by the network rather than by its producer:
 * the pool is full (backpressure), the input has ended and the answer is
 * awaited, or (batch, tus) a request is sent and not yet answered. In stream
 * mode bytes stay unacknowledged until the one final answer, so only the
 * first two count.
 */
export function waitingOnNetwork(upload: BufferedHttpWritable, mode: UploadMode): boolean {
  return upload.writableNeedDrain || upload.writableEnded || owesAnswer(upload, mode);
}

/** batch and tus: a request is sent and not yet answered (stream mode owes its one answer only at the end). */
export function owesAnswer(progress: Pick<ProgressSnapshot, 'bytesSent' | 'bytesAcknowledged'>, mode: UploadMode): boolean {
  return mode !== 'stream' && progress.bytesSent > progress.bytesAcknowledged;
}

function seconds(ms: number): string {
  return String(ms / 1000);
}
