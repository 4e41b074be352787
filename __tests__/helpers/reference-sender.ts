import got, { type RequestError, type Response } from 'got';
import { setTimeout as delay } from 'node:timers/promises';
import { classifyAttempt, type ConcurrencyLimiter } from '../../lib/http/concurrency-limiter.js';
import { splitBatch, type BatchPiece } from '../../lib/modes/batch/split.js';
import { UploadPause } from '../../lib/http/upload-pause.js';

/**
 * A minimal batch sender that uses the overload parts (limiter, pause, split) the way the batch
 * transport is meant to, with got making one attempt at a time:
 *
 *   await pause.whenOpen()                 before every attempt
 *   token = await limiter.acquire(order)   a slot under the current limit
 *   got(...) one attempt
 *   limiter.finished(token, { kind: classifyAttempt(answer), rttMs })
 *   2xx → done; 413 → splitBatch and send both halves; 429/503 with
 *   Retry-After → pause.pauseFor(ms); other retryable → own backoff (full jitter)
 *
 * It is a reference for wiring and a driver for tests of the parts together
 * against real servers; it is not the library's transport (no progress, no
 * events, no abort beyond a signal).
 */
export interface ReferenceSenderOptions {
  limiter: ConcurrencyLimiter;
  pause?: UploadPause;
  /** First backoff ceiling, doubled per attempt, ms (the library's is 1000). */
  backoffBaseMs?: number;
  /** Upper bound of one backoff, ms (full jitter below it). */
  backoffLimitMs?: number;
  maxAttempts?: number;
  random?: () => number;
  signal?: AbortSignal;
}

export interface SentReport {
  attempts: number;
  splits: number;
  /** Pieces acknowledged (batches, or halves of split ones). */
  acknowledged: number;
}

const RETRYABLE = new Set([408, 429, 500, 502, 503, 504]);

export async function sendBatches(url: string, batches: readonly BatchPiece[], options: ReferenceSenderOptions): Promise<SentReport> {
  const { limiter, backoffBaseMs = 1000, backoffLimitMs = Number.POSITIVE_INFINITY, maxAttempts = 50, random = Math.random, signal } = options;
  const pause = options.pause ?? new UploadPause();
  const report: SentReport = { attempts: 0, splits: 0, acknowledged: 0 };

  const send = async (piece: BatchPiece): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      await pause.whenOpen(signal);
      const token = await limiter.acquire({ order: piece.sequence, ...(signal ? { signal } : {}) });
      report.attempts++;
      const started = performance.now();
      let response: Response<string> | undefined;
      let errorCode: string | undefined;
      try {
        response = await got.post(url, {
          body: piece.bytes,
          headers: { 'Batch-Sequence': String(piece.sequence), 'Batch-Offset': String(piece.offset), 'Idempotency-Key': piece.key },
          retry: { limit: 0 },
          throwHttpErrors: false,
          followRedirect: false,
          ...(signal ? { signal } : {}),
        });
      } catch (error) {
        errorCode = (error as RequestError).code;
      }
      const rttMs = performance.now() - started;
      const statusCode = response?.statusCode;
      limiter.finished(token, {
        kind: classifyAttempt({ ...(statusCode !== undefined ? { statusCode } : {}), ...(errorCode !== undefined ? { errorCode } : {}) }),
        rttMs,
      });

      if (statusCode !== undefined && statusCode >= 200 && statusCode < 300) {
        report.acknowledged++;
        return;
      }
      if (statusCode === 413) {
        const halves = splitBatch(piece);
        if (!halves) throw new Error(`413 for a single write at offset ${piece.offset}`);
        report.splits++;
        await Promise.all(halves.map(send));
        return;
      }
      const retryable = statusCode === undefined ? errorCode !== 'ERR_CANCELED' : RETRYABLE.has(statusCode);
      if (!retryable || attempt >= maxAttempts) throw new Error(`batch ${piece.key} failed: ${statusCode ?? errorCode}`);
      const retryAfter = Number(response?.headers['retry-after']);
      if (response?.headers['retry-after'] !== undefined && Number.isFinite(retryAfter)) {
        // One clock for the upload: every attempt waits, this batch included (whenOpen at the loop's top).
        pause.pauseFor(retryAfter * 1000);
      } else {
        await delay(Math.max(1, Math.round(random() * Math.min(backoffLimitMs, backoffBaseMs * 2 ** (attempt - 1)))), undefined, signal ? { signal } : {});
      }
    }
  };

  try {
    await Promise.all(batches.map(send));
  } finally {
    pause.close();
    limiter.close();
  }
  return report;
}

/** Cuts `records` (each one write) into batches of at most `highWaterMark` bytes, never splitting a record, as the core does. */
export function batchesOf(records: readonly Buffer[], highWaterMark: number, keyPrefix = 'k'): BatchPiece[] {
  const batches: BatchPiece[] = [];
  let current: Buffer[] = [];
  let size = 0;
  let offset = 0;
  const close = (): void => {
    if (current.length === 0) return;
    const sequence = batches.length;
    batches.push({ bytes: Buffer.concat(current), offset, sequence, key: `${keyPrefix}-${sequence}`, records: current.map((record) => record.length) });
    offset += size;
    current = [];
    size = 0;
  };
  for (const record of records) {
    if (size + record.length > highWaterMark) close();
    current.push(record);
    size += record.length;
  }
  close();
  return batches;
}
