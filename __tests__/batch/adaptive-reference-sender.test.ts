import { afterEach, describe, expect, test } from '@jest/globals';
import { AdaptiveConcurrency, type LimitChange } from '../../lib/http/adaptive-concurrency.js';
import { FixedConcurrency } from '../../lib/http/concurrency-limiter.js';
import { startQueueingServer, startRefusingServer, startSizeLimitServer, type CapacityServer } from '../helpers/capacity-server.js';
import { ndjsonLines } from '../helpers/batch-server.js';
import { batchesOf, sendBatches } from '../helpers/reference-sender.js';

/**
 * The overload parts (limiter, pause, split) used together, the way the batch transport is meant to
 * (see helpers/reference-sender.ts), against the capacity servers. Nothing
 * here depends on timing: the assertions are about what was delivered and
 * about implications that hold whatever the schedule (a 429 means the limit
 * went above the server's capacity, and the controller then cut it).
 */

const records = ndjsonLines(600, 13).map((line) => Buffer.from(line));
const expected = Buffer.concat(records);
/** Offsets where a record starts (and the end): the only places a batch may begin. */
const recordStarts = new Set(records.reduce<number[]>((starts, record) => [...starts, starts.at(-1)! + record.length], [0]));

describe('the overload parts together, against capacity servers', () => {
  let server: CapacityServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  function expectExactDelivery(target: CapacityServer): void {
    expect(target.problems()).toEqual([]);
    expect(target.mismatches).toBe(0);
    expect(target.assembled().equals(expected)).toBe(true);
    for (const batch of target.stored.values()) expect(recordStarts.has(batch.offset)).toBe(true);
  }

  test('429 above capacity: every record once, in order by offset, none split; refusals imply the limit passed capacity and was cut', async () => {
    const capacity = 2;
    server = await startRefusingServer(capacity, { latencyMs: 2 });
    const changes: LimitChange[] = [];
    const limiter = new AdaptiveConcurrency({ max: 8, onChange: (change) => changes.push(change) });
    const batches = batchesOf(records, 2048);
    await sendBatches(server.url, batches, { limiter, backoffLimitMs: 20 });

    expectExactDelivery(server);
    expect(server.stored.size).toBe(batches.length);
    expect([...server.stored.keys()].every((key) => !key.includes('.'))).toBe(true);
    const highest = Math.max(1, ...changes.map((change) => change.limit));
    expect(highest).toBeLessThanOrEqual(8);
    if (server.refused > 0) {
      expect(highest).toBeGreaterThan(capacity);
      expect(changes.some((change) => change.reason === 'overload')).toBe(true);
    }
  });

  test('a queueing server: every record once, and never an error', async () => {
    server = await startQueueingServer(2, { latencyMs: 2 });
    const limiter = new AdaptiveConcurrency({ max: 8 });
    await sendBatches(server.url, batchesOf(records, 2048), { limiter, backoffLimitMs: 20 });
    expectExactDelivery(server);
    expect([...server.answers.keys()]).toEqual([200]);
  });

  test('413 above a size: batches split at write boundaries down to what fits, keys derived from the parent', async () => {
    const limit = 700;
    server = await startSizeLimitServer(limit);
    // Records are at most ~330 bytes: any piece of two or more may be refused, single records always fit.
    expect(Math.max(...records.map((record) => record.length))).toBeLessThanOrEqual(limit);
    const report = await sendBatches(server.url, batchesOf(records, 4096), { limiter: new FixedConcurrency(4), backoffLimitMs: 20 });

    expectExactDelivery(server);
    expect(report.splits).toBeGreaterThan(0);
    expect(server.answers.get(413)).toBe(report.splits);
    for (const batch of server.stored.values()) {
      expect(batch.body.length).toBeLessThanOrEqual(limit);
      expect(batch.key).toMatch(/^k-\d+(\.[01])*$/);
    }
    // A piece keeps its parent's sequence: k-<sequence>…
    for (const batch of server.stored.values()) expect(batch.key.startsWith(`k-${batch.sequence}`)).toBe(true);
  });
});
