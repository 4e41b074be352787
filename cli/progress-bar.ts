import cliProgress from 'cli-progress';
import type { ProgressSnapshot } from '../lib/index.js';
import { retryText, type RetryNotice } from './retry-report.js';
import { formatBytes, formatRate } from './units.js';

const BAR_WIDTH = 30;

/**
 * The progress display on stderr: bytes sent and acknowledged, rate, and a bar
 * with ETA when the size is known. Outside a terminal (`--progress` forced it)
 * cli-progress prints one line every 2 s instead of redrawing.
 */
export class ProgressBar {
  readonly #bar: cliProgress.SingleBar;
  readonly #total: number | undefined;
  readonly #started = Date.now();
  #sent = 0;
  #acknowledged = 0;
  /** The last retry, shown until more bytes are acknowledged; its wait counts down after the first drawing. */
  #retry: { notice: RetryNotice; until: number; drawn: boolean } | undefined;

  constructor(total: number | undefined, stream: NodeJS.WritableStream) {
    this.#total = total;
    this.#bar = new cliProgress.SingleBar({
      stream,
      noTTYOutput: true,
      hideCursor: true,
      // The summary line takes the bar's place on a terminal.
      clearOnComplete: true,
      format: () => this.#line(),
    });
    // cli-progress needs a total; an unknown size is shown without bar and ETA.
    this.#bar.start(total ?? 0, 0);
  }

  update({ bytesSent, bytesAcknowledged }: ProgressSnapshot): void {
    this.#sent = bytesSent;
    if (bytesAcknowledged > this.#acknowledged) this.#retry = undefined;
    this.#acknowledged = bytesAcknowledged;
    this.#bar.update(bytesSent);
  }

  /** Shown at once (also outside a terminal), so a wait does not look like a frozen bar. */
  retrying(notice: RetryNotice): void {
    this.#retry = { notice, until: Date.now() + notice.delayMs, drawn: false };
    this.#bar.render();
  }

  stop(): void {
    this.#bar.stop();
  }

  #line(): string {
    const seconds = (Date.now() - this.#started) / 1000;
    const figures = `${formatBytes(this.#sent)} sent, ${formatBytes(this.#acknowledged)} acknowledged`;
    // While a retry waits, it takes the place of the rate and ETA, which mean nothing then (and the line stays short).
    const retry = this.#retryText();
    if (this.#total === undefined) return `${figures} | ${retry ?? `${formatRate(this.#sent, seconds)} | ${Math.round(seconds)}s`}`;
    const done = this.#total > 0 ? Math.min(1, this.#sent / this.#total) : 1;
    const filled = Math.round(done * BAR_WIDTH);
    const bar = '='.repeat(filled) + '-'.repeat(BAR_WIDTH - filled);
    const rate = seconds > 0 ? this.#sent / seconds : 0;
    const eta = rate > 0 ? `${Math.ceil((this.#total - this.#sent) / rate)}s` : '?';
    return `[${bar}] ${Math.floor(done * 100)}% | ${figures} of ${formatBytes(this.#total)} | ${retry ?? `${formatRate(this.#sent, seconds)} | ETA ${eta}`}`;
  }

  #retryText(): string | undefined {
    if (!this.#retry) return undefined;
    const { notice, until, drawn } = this.#retry;
    this.#retry.drawn = true;
    // The first drawing says the whole wait, however short; later ones what is left of it.
    const remaining = drawn ? until - Date.now() : notice.delayMs;
    return remaining > 0 ? retryText(notice, remaining) : `attempt ${notice.attempt} of ${notice.of}`;
  }
}
