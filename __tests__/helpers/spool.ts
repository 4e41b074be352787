import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Spool, type SpooledBatch } from '../../lib/modes/batch/spool/index.js';

/** A fresh directory per test, removed by `removeSpoolDirs()` in `afterEach`; spools still open there are closed first. */
const dirs: string[] = [];
const spools: Spool[] = [];

export async function spoolDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bhw-spool-'));
  dirs.push(dir);
  return join(dir, 'spool');
}

/** Spool.open, remembered so that `removeSpoolDirs()` closes it even when the test failed half-way. */
export async function openSpool(options: Parameters<typeof Spool.open>[0]): Promise<Spool> {
  const spool = await Spool.open(options);
  spools.push(spool);
  return spool;
}

export async function removeSpoolDirs(): Promise<void> {
  await Promise.all(spools.splice(0).map((spool) => spool.close()));
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
}

/** A batch with its bytes copied out of the caller's buffer, so the buffer can be reused. */
export interface TakenBatch extends Omit<SpooledBatch, 'bytes'> {
  bytes: Buffer;
}

export async function take(spool: Spool, size: number, partial: boolean): Promise<TakenBatch | undefined> {
  const batch = await spool.nextBatch(Buffer.alloc(size), partial);
  return batch && { ...batch, bytes: Buffer.from(batch.bytes) };
}

/** Takes every batch there is (cutting the last partial one) and acknowledges each. */
export async function drain(spool: Spool, size: number): Promise<TakenBatch[]> {
  const batches: TakenBatch[] = [];
  for (let batch = await take(spool, size, true); batch; batch = await take(spool, size, true)) {
    batches.push(batch);
    await spool.acknowledge(batch.sequence);
  }
  return batches;
}

/** Splits a batch's bytes back into its records. */
export function recordsOf(batch: { bytes: Buffer; records: number[] }): Buffer[] {
  const records: Buffer[] = [];
  let offset = 0;
  for (const length of batch.records) {
    records.push(batch.bytes.subarray(offset, offset + length));
    offset += length;
  }
  return records;
}

export function record(label: string, size = label.length): Buffer {
  return Buffer.from(label.repeat(Math.ceil(size / Math.max(1, label.length))).slice(0, size));
}
