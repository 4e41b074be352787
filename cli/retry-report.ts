import diagnosticsChannel from 'node:diagnostics_channel';
import { DiagnosticsChannels, type BatchRetriedMessage, type RequestRetriedMessage } from '../lib/index.js';

/** One retry the library decided: what failed, how long it waits, and which attempt comes next. */
export interface RetryNotice {
  /** `HTTP 503`, `ECONNREFUSED`: what made the attempt fail. */
  cause: string;
  delayMs: number;
  /** The attempt about to be made (2 after the first failed). */
  attempt: number;
  /** Attempts allowed in all: `--retry` + 1; undefined when only the retry budget in time bounds them (the default). */
  of: number | undefined;
}

/**
 * Watches the retries the library publishes on its diagnostics channels
 * (batch mode's per batch, every other mode's per request), for the progress
 * bar and the final error line: how many attempts each batch took.
 */
export class RetryReport {
  readonly #limit: number | undefined;
  readonly #onRetry: (notice: RetryNotice) => void;
  /** Attempts made so far, per batch sequence (the failed one's count goes in the error line). */
  readonly #attempts = new Map<number, number>();
  readonly #listener = (message: unknown): void => this.#retried(message as BatchRetriedMessage | RequestRetriedMessage);

  constructor(retryLimit: number | undefined, onRetry: (notice: RetryNotice) => void) {
    this.#limit = retryLimit;
    this.#onRetry = onRetry;
    diagnosticsChannel.subscribe(DiagnosticsChannels.batchRetried, this.#listener);
    diagnosticsChannel.subscribe(DiagnosticsChannels.requestRetried, this.#listener);
  }

  /** Attempts the batch `sequence` took (a failed batch's: all it was allowed), or undefined if it was never retried. */
  attemptsOf(sequence: number | undefined): number | undefined {
    return sequence === undefined ? undefined : this.#attempts.get(sequence);
  }

  stop(): void {
    diagnosticsChannel.unsubscribe(DiagnosticsChannels.batchRetried, this.#listener);
    diagnosticsChannel.unsubscribe(DiagnosticsChannels.requestRetried, this.#listener);
  }

  #retried(message: BatchRetriedMessage | RequestRetriedMessage): void {
    const attempt = message.attempt + 1;
    if ('sequence' in message) this.#attempts.set(message.sequence, attempt);
    const cause = message.statusCode !== undefined ? `HTTP ${message.statusCode}` : (message.code ?? message.reason);
    this.#onRetry({ cause, delayMs: message.delayMs, attempt, of: this.#limit === undefined ? undefined : this.#limit + 1 });
  }
}

/** `retrying in 4 s, attempt 3 of 6`: the wait rounded up to whole seconds, as curl says it. */
export function retryText(notice: RetryNotice, remainingMs = notice.delayMs): string {
  return `retrying in ${Math.ceil(remainingMs / 1000)} s, attempt ${notice.attempt}${notice.of === undefined ? '' : ` of ${notice.of}`}`;
}
