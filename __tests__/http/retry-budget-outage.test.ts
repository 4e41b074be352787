import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { pipeline } from 'node:stream/promises';
import { BufferedHttpWritable, NetworkError } from '../../lib/index.js';
import { installRetryClock } from '../../lib/http/retry-clock.js';
import { startBatchServer, type BatchServer } from '../helpers/batch-server.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { freePort } from '../helpers/free-port.js';
import { manualClock, type ManualClock } from '../helpers/manual-clock.js';
import { pattern, readableOf } from '../helpers/data.js';
import { sha256 } from '../helpers/sink-server.js';
import { startTusServer, type TusTestServer } from '../helpers/tus-server.js';

/**
 * A server down for longer than the old budget (5 retries, ~8 s), in simulated
 * time: the retry engine waits on a manual clock, and each wait is skipped as
 * soon as it is armed, while the requests themselves are real.
 */

const highWaterMark = 100;
const batches = (): Buffer[] => Array.from({ length: 3 }, (_value, index) => pattern(highWaterMark, index + 1));

let clock: ManualClock;
beforeEach(() => {
  clock = manualClock();
  installRetryClock(clock);
});
afterEach(() => installRetryClock());

/**
 * Runs `upload` to its end, skipping each backoff the moment it is armed;
 * `onWait(now)` is told the simulated time before each skip (to bring a server up).
 */
async function throughOutage(upload: Promise<void>, onWait: (now: number) => Promise<void>): Promise<void> {
  const finished = upload.then(() => 'finished' as const);
  for (;;) {
    const next = await Promise.race([finished, clock.armed()]);
    if (next === 'finished') return;
    await onWait(clock.now());
    clock.advance(next.due - clock.now());
  }
}

describe('batch: retries outlast an outage, within a budget in time', () => {
  let server: BatchServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  test('a server refusing connections for 60 s (simulated), then up: the upload succeeds with the defaults', async () => {
    const port = await freePort();
    const upload = new BufferedHttpWritable(`http://127.0.0.1:${port}/`, { mode: 'batch', highWaterMark });
    let waits = 0;
    await throughOutage(pipeline(readableOf(batches()), upload), async (now) => {
      waits++;
      if (now >= 60_000 && !server) server = await startBatchServer(undefined, { port });
    });
    expect(waits).toBeGreaterThan(5);
    expect(clock.now()).toBeGreaterThanOrEqual(60_000);
    expect(server!.assembled()).toEqual(Buffer.concat(batches()));
  });

  test('down for longer than the budget: fails, saying how many attempts failed over how long', async () => {
    const port = await freePort();
    const upload = new BufferedHttpWritable(`http://127.0.0.1:${port}/`, { mode: 'batch', highWaterMark, retry: { maxRetryTime: 30_000 } });
    const error = await throughOutage(pipeline(readableOf(batches()), upload), async () => {}).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(NetworkError);
    const failure = error as NetworkError;
    expect(failure.causeCode).toBe('ECONNREFUSED');
    expect(failure.retries!.attempts).toBeGreaterThan(5);
    expect(failure.retries!.elapsedMs).toBe(30_000);
    expect(failure.message).toMatch(new RegExp(`gave up after ${failure.retries!.attempts} failed attempts over 30 s: retry\\.maxRetryTime is 30 s`));
    expect(failure.bytesAcknowledged).toBe(0);
  });
});

describe('tus: retries outlast an outage', () => {
  let tus: TusTestServer | undefined;
  let proxy: FaultProxy | undefined;
  afterEach(async () => {
    await proxy?.close();
    await tus?.close();
    proxy = tus = undefined;
  });

  test('connections reset for 60 s (simulated), then through: the upload completes', async () => {
    tus = await startTusServer();
    proxy = await startFaultProxy(tus.url, { fault: () => ({ kind: 'reset', afterBytes: 0 }) });
    const data = pattern(1000);
    const upload = new BufferedHttpWritable(proxy.url(tus.url), { mode: 'tus', highWaterMark: 400 });
    let waits = 0;
    await throughOutage(pipeline(readableOf([data]), upload), async (now) => {
      waits++;
      if (now >= 60_000) proxy!.setFault(() => ({ kind: 'pass' }));
    });
    expect(waits).toBeGreaterThan(5);
    const stored = await tus.stored(upload.uploadUrl!);
    expect(stored.sha256).toBe(sha256(data));
  });
});
