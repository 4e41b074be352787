/**
 * Turns the library's diagnostics channels into metrics: counters for
 * batches sent, acknowledged, retried (by reason) and split, a histogram of
 * batch round-trip times, and the concurrency limit as a gauge, printed every
 * `--every` ms. The same listeners could feed prom-client or OpenTelemetry.
 *
 *   node dist/examples/metrics-from-diagnostics.js [url] [records]
 *
 * Without a URL it starts the receiving server of bhw receive (cli/receive-server.ts) on a
 * free port, storing into a temporary directory removed at the end. It subscribes by channel name only, as any application would,
 * so it needs nothing from the library but the names (and, for types, the
 * message interfaces).
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import {
  BufferedHttpWritable,
  DiagnosticsChannels,
  type BatchAcknowledgedMessage,
  type BatchRetriedMessage,
  type BatchSentMessage,
  type BatchSplitMessage,
  type ConcurrencyChangedMessage,
  type UploadErrorMessage,
} from 'buffered-http-writable';
import { startReceiveServer } from '../cli/receive-server.js';

/** A fixed-bucket histogram (upper bounds in ms), as Prometheus keeps one. */
class Histogram {
  readonly #bounds: readonly number[];
  readonly #counts: number[];
  #sum = 0;
  #count = 0;

  constructor(bounds: readonly number[]) {
    this.#bounds = bounds;
    this.#counts = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(value: number): void {
    let bucket = this.#bounds.findIndex((bound) => value <= bound);
    if (bucket === -1) bucket = this.#bounds.length;
    this.#counts[bucket]!++;
    this.#sum += value;
    this.#count++;
  }

  /** The value below which `q` of the observations fall, to the bucket's bound. */
  quantile(q: number): number | undefined {
    if (this.#count === 0) return undefined;
    let seen = 0;
    for (let bucket = 0; bucket < this.#counts.length; bucket++) {
      seen += this.#counts[bucket]!;
      if (seen >= q * this.#count) return this.#bounds[bucket] ?? Number.POSITIVE_INFINITY;
    }
    return Number.POSITIVE_INFINITY;
  }

  get mean(): number | undefined {
    return this.#count === 0 ? undefined : this.#sum / this.#count;
  }
}

/** What the listeners accumulate; one instance per process. */
export interface UploadMetrics {
  uploadsStarted: number;
  uploadsFinished: number;
  uploadsFailed: number;
  attemptsSent: number;
  bytesSent: number;
  batchesAcknowledged: number;
  retries: Map<string, number>;
  splits: number;
  concurrencyLimit: number | undefined;
  concurrencyChanges: Map<string, number>;
  rttMs: Histogram;
}

/**
 * Subscribes to every channel; returns the metrics and a function that
 * unsubscribes (channels hold their listeners for the life of the process).
 */
export function collectUploadMetrics(): { metrics: UploadMetrics; stop: () => void } {
  const metrics: UploadMetrics = {
    uploadsStarted: 0,
    uploadsFinished: 0,
    uploadsFailed: 0,
    attemptsSent: 0,
    bytesSent: 0,
    batchesAcknowledged: 0,
    retries: new Map(),
    splits: 0,
    concurrencyLimit: undefined,
    concurrencyChanges: new Map(),
    rttMs: new Histogram([1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000]),
  };
  const increment = (map: Map<string, number>, key: string): void => {
    map.set(key, (map.get(key) ?? 0) + 1);
  };

  // Each listener is typed by its channel's message interface.
  const listeners: Array<[string, (message: unknown) => void]> = [
    [DiagnosticsChannels.uploadStart, () => void metrics.uploadsStarted++],
    [DiagnosticsChannels.uploadFinish, () => void metrics.uploadsFinished++],
    [
      DiagnosticsChannels.uploadError,
      (message) => {
        metrics.uploadsFailed++;
        const { error, progress } = message as UploadErrorMessage;
        console.error(`upload failed after ${progress.bytesAcknowledged} acknowledged bytes: ${error.message}`);
      },
    ],
    [
      DiagnosticsChannels.batchSent,
      (message) => {
        const sent = message as BatchSentMessage;
        metrics.attemptsSent++;
        metrics.bytesSent += sent.bodySize;
      },
    ],
    [
      DiagnosticsChannels.batchAcknowledged,
      (message) => {
        metrics.batchesAcknowledged++;
        metrics.rttMs.observe((message as BatchAcknowledgedMessage).rttMs);
      },
    ],
    [
      DiagnosticsChannels.batchRetried,
      (message) => {
        const retried = message as BatchRetriedMessage;
        increment(metrics.retries, `${retried.reason} ${retried.statusCode ?? retried.code ?? ''}`.trim());
      },
    ],
    [
      DiagnosticsChannels.batchSplit,
      (message) => {
        metrics.splits++;
        const { key, pieces } = message as BatchSplitMessage;
        console.log(`413: batch ${key} split into ${pieces.map((piece) => `${piece.key} (${piece.size} B)`).join(' and ')}`);
      },
    ],
    [
      DiagnosticsChannels.concurrencyChanged,
      (message) => {
        const change = message as ConcurrencyChangedMessage;
        metrics.concurrencyLimit = change.limit;
        increment(metrics.concurrencyChanges, change.reason);
      },
    ],
  ];
  for (const [name, listener] of listeners) diagnosticsChannel.subscribe(name, listener);
  return {
    metrics,
    stop: () => {
      for (const [name, listener] of listeners) diagnosticsChannel.unsubscribe(name, listener);
    },
  };
}

/** One line per report: counters since the start, RTT quantiles, the current limit. */
export function formatMetrics(metrics: UploadMetrics): string {
  const ms = (value: number | undefined): string => (value === undefined ? '-' : `${value.toFixed(1)}ms`);
  const entries = (map: Map<string, number>): string => [...map].map(([key, count]) => `${key}=${count}`).join(',') || '0';
  return [
    `uploads started=${metrics.uploadsStarted} finished=${metrics.uploadsFinished} failed=${metrics.uploadsFailed}`,
    `attempts=${metrics.attemptsSent} bytes=${metrics.bytesSent} acknowledged=${metrics.batchesAcknowledged}`,
    `retries=${entries(metrics.retries)} splits=${metrics.splits}`,
    `rtt mean=${ms(metrics.rttMs.mean)} p50≤${ms(metrics.rttMs.quantile(0.5))} p99≤${ms(metrics.rttMs.quantile(0.99))}`,
    `limit=${metrics.concurrencyLimit ?? '-'} changes=${entries(metrics.concurrencyChanges)}`,
  ].join(' | ');
}

async function main(): Promise<void> {
  const [urlArgument, countArgument] = process.argv.slice(2);
  const work = urlArgument ? undefined : await mkdtemp(join(tmpdir(), 'bhw-metrics-'));
  const receiver = work ? await startReceiveServer({ port: 0, dir: join(work, 'received'), log: () => {} }) : undefined;
  const url = urlArgument || receiver!.url;
  const { metrics, stop } = collectUploadMetrics();
  const report = setInterval(() => console.log(formatMetrics(metrics)), 1000);
  try {
    const count = Number(countArgument ?? 200_000);
    const records = Readable.from(
      (function* () {
        for (let i = 0; i < count; i++) yield `${JSON.stringify({ i, level: 'info', msg: `event ${i}` })}\n`;
      })(),
    );
    // 'auto': the limit starts at 1 and moves with the server's answers (the `limit=` column).
    const upload = new BufferedHttpWritable(url, { mode: 'batch', highWaterMark: 64 * 1024, concurrency: 'auto' });
    await pipeline(records, upload);
  } finally {
    clearInterval(report);
    console.log(formatMetrics(metrics));
    stop();
    await receiver?.close();
    if (work) await rm(work, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
