/**
 * Written means kept, across SIGKILLs: a child process writes numbered NDJSON
 * records into a spooled batch upload against a server that deduplicates by
 * `Idempotency-Key` and fails often (503, 429, resets, answers lost after
 * storing); the test kills it at seeded moments, restarting on the same
 * directory, then drains the spool. Every record whose callback fired is
 * stored exactly once, whole; a key repeated always carried identical bytes.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { killChildren, spawnChild } from '../helpers/children.js';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Spool } from '../../lib/modes/batch/spool/index.js';
import { randomFaults, seededRandom, startBatchServer, type BatchServer } from '../helpers/batch-server.js';

/** The built child: `npm test` builds before jest. */
const WRITER = fileURLToPath(new URL('../../dist/__tests__/helpers/spool-writer.js', import.meta.url));

let server: BatchServer | undefined;
let dir: string | undefined;

afterEach(async () => {
  await killChildren();
  await server?.close();
  server = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
});

function startWriter(
  url: string,
  spoolDir: string,
  fsync: boolean,
  run: number,
  mode: 'write' | 'drain',
): { child: ChildProcess; lines: string[]; seen(count: number): Promise<void> } {
  const child = spawnChild(process.execPath, [WRITER, url, spoolDir, fsync ? '1' : '0', String(run), mode], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters: Array<{ count: number; resolve(): void; reject(error: Error): void }> = [];
  let pending = '';
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout!.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const complete = pending.split('\n');
    pending = complete.pop()!;
    lines.push(...complete);
    for (const waiter of waiters.slice()) {
      if (lines.length >= waiter.count) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  });
  child.on('close', (code) => {
    for (const waiter of waiters.splice(0)) waiter.reject(new Error(`writer exited (${code}) after ${lines.length} lines: ${stderr}`));
  });
  return {
    child,
    lines,
    seen: (count) => (lines.length >= count ? Promise.resolve() : new Promise((resolve, reject) => waiters.push({ count, resolve, reject }))),
  };
}

async function crashAndRecover(seed: number, fsync: boolean, kills: number): Promise<void> {
  server = await startBatchServer(randomFaults(seed, { rate: 0.3, faultyAttempts: 2 }));
  dir = await mkdtemp(join(tmpdir(), 'bhw-spool-crash-'));
  const random = seededRandom(seed);
  const confirmed = new Set<string>();
  for (let run = 0; run < kills; run++) {
    const writer = startWriter(server.url, dir, fsync, run, 'write');
    // Killed after a seeded number of confirmations: anywhere from the first batch to several spool segments in.
    await writer.seen(1 + Math.floor(random() * 400));
    const exited = once(writer.child, 'close');
    writer.child.kill('SIGKILL');
    await exited;
    for (const line of writer.lines) {
      const match = /^ok (\d+)$/.exec(line);
      if (match) confirmed.add(`${run}:${match[1]}`);
    }
  }
  const drain = startWriter(server.url, dir, fsync, kills, 'drain');
  const [code] = (await once(drain.child, 'close')) as [number];
  expect(code).toBe(0);

  // Every stored batch holds whole records; every record is stored at most once, every confirmed one exactly once.
  const stored = new Map<string, number>();
  for (const batch of server.ordered()) {
    const text = batch.body.toString();
    expect(text.endsWith('\n')).toBe(true);
    for (const line of text.slice(0, -1).split('\n')) {
      const record = JSON.parse(line) as { run: number; n: number; pad: string };
      expect(record.pad).toBe('x'.repeat(record.n % 64));
      const id = `${record.run}:${record.n}`;
      stored.set(id, (stored.get(id) ?? 0) + 1);
    }
  }
  expect([...stored.values()].every((count) => count === 1)).toBe(true);
  const missing = [...confirmed].filter((id) => !stored.has(id));
  expect(missing).toEqual([]);
  expect(confirmed.size).toBeGreaterThan(kills);
  expect(server.mismatches).toBe(0);
  // The spool ends empty: nothing left to resend (the segment being written may stay, holding only acknowledged records).
  const spool = await Spool.open({ dir });
  expect(spool.empty).toBe(true);
  expect(spool.bytesStored).toBe(0);
  await spool.close();
}

describe('a spooled batch upload killed with SIGKILL loses nothing whose write callback fired', () => {
  test('8 kills at seeded moments, fsync off', async () => {
    await crashAndRecover(11, false, 8);
  });

  test('4 kills at seeded moments, fsync on', async () => {
    await crashAndRecover(23, true, 4);
  });
});
