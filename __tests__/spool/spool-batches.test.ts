import { afterEach, describe, expect, test } from '@jest/globals';
import { CUT } from '../../lib/modes/batch/spool/index.js';
import { drain, openSpool, record, recordsOf, removeSpoolDirs, spoolDir, take } from '../helpers/spool.js';

afterEach(removeSpoolDirs);

describe('records are cut into batches whole, in order, with a fixed identity', () => {
  test('whole records fill a batch until the next would not fit; the rest waits for more or a partial cut', async () => {
    const spool = await openSpool({ dir: await spoolDir() });
    await spool.append([record('a', 4), record('b', 3), record('c', 2)]);
    // 4 + 3 fit in 8; 'c' would not: the batch is cut before it, never through it.
    const first = await take(spool, 8, false);
    expect(first).toMatchObject({ sequence: 0, offset: 0, key: `${spool.uploadId}-0`, records: [4, 3] });
    expect(first!.bytes.toString()).toBe('aaaabbb');
    // Only 'c' is left and it does not fill a batch: nothing is cut without `partial`.
    expect(await spool.nextBatch(Buffer.alloc(8), false)).toBeUndefined();
    const second = await take(spool, 8, true);
    expect(second).toMatchObject({ sequence: 1, offset: 7, key: `${spool.uploadId}-1`, records: [2] });
    expect(second!.bytes.toString()).toBe('cc');
    expect(await spool.nextBatch(Buffer.alloc(8), true)).toBeUndefined();
  });

  test('an append of more records than one group holds (65536) is written as several groups, read back whole and in order, also after a restart', async () => {
    const dir = await spoolDir();
    const texts = Array.from({ length: 70_000 }, (_, index) => `r${index};`);
    const first = await openSpool({ dir });
    expect(await first.append(texts)).toBe(texts.join('').length);
    // The first batch spans the first group's end and the second group's start; it is left open for a restart.
    const open = await take(first, 65_536 * 7, false);
    expect(open!.records.length).toBeGreaterThan(65_536);
    await first.close();
    const second = await openSpool({ dir });
    const batches = await drain(second, 100_000);
    expect(batches[0]).toEqual(open);
    expect(batches.flatMap(recordsOf).map(String)).toEqual(texts);
  });

  test('a batch exactly full is cut without partial', async () => {
    const spool = await openSpool({ dir: await spoolDir() });
    await spool.append([record('a', 5), record('b', 3)]);
    const batch = await take(spool, 8, false);
    expect(batch!.bytes.toString()).toBe('aaaaabbb');
  });

  test('a CUT ends a batch early; CUTs with nothing before them cut nothing', async () => {
    const spool = await openSpool({ dir: await spoolDir() });
    await spool.append([CUT, record('a', 2), CUT, CUT, record('b', 2), record('c', 2), CUT]);
    const batches = await drain(spool, 100);
    expect(batches.map((batch) => batch.bytes.toString())).toEqual(['aa', 'bbcc']);
    expect(batches.map((batch) => [batch.sequence, batch.offset])).toEqual([
      [0, 0],
      [1, 2],
    ]);
    expect(spool.empty).toBe(true);
  });

  test('a CUT lets a batch go without partial', async () => {
    const spool = await openSpool({ dir: await spoolDir() });
    await spool.append([record('a', 2), CUT]);
    expect((await take(spool, 100, false))!.bytes.toString()).toBe('aa');
  });

  test('a record larger than the buffer travels alone in its own Buffer, after what came before it', async () => {
    const spool = await openSpool({ dir: await spoolDir() });
    const big = record('0123456789', 100_000);
    await spool.append([record('a', 3), big, record('z', 3)]);
    const into = Buffer.alloc(16);
    const first = await spool.nextBatch(into, false);
    expect(first!.bytes.toString()).toBe('aaa');
    expect(first!.bytes.buffer).toBe(into.buffer); // a view of the caller's buffer
    const second = await spool.nextBatch(into, false);
    expect(second!.bytes.buffer).not.toBe(into.buffer);
    expect(second!.records).toEqual([100_000]);
    expect(second!.bytes.equals(big)).toBe(true);
    expect(second!.offset).toBe(3);
    const third = await spool.nextBatch(into, true);
    expect(third).toMatchObject({ sequence: 2, offset: 100_003, records: [3] });
  });

  test('many small records in one append: one batch per buffer, bytes and boundaries exact', async () => {
    const spool = await openSpool({ dir: await spoolDir() });
    const records = Array.from({ length: 5000 }, (_, index) => Buffer.from(`{"n":${index}}\n`));
    await spool.append(records);
    expect(spool.bytesStored).toBe(records.reduce((sum, each) => sum + each.length, 0));
    const batches = await drain(spool, 4096);
    expect(batches.flatMap(recordsOf).map(String)).toEqual(records.map(String));
    let offset = 0;
    for (const [index, batch] of batches.entries()) {
      expect(batch.sequence).toBe(index);
      expect(batch.offset).toBe(offset);
      expect(batch.bytes.length).toBeLessThanOrEqual(4096);
      offset += batch.bytes.length;
    }
    expect(spool.bytesStored).toBe(0);
    expect(spool.empty).toBe(true);
  });

  test('empty until something is appended; not empty while a batch is unacknowledged', async () => {
    const spool = await openSpool({ dir: await spoolDir() });
    expect(spool.empty).toBe(true);
    await spool.append([record('a', 1)]);
    expect(spool.empty).toBe(false);
    const batch = await take(spool, 8, true);
    expect(spool.empty).toBe(false);
    await spool.acknowledge(batch!.sequence);
    expect(spool.empty).toBe(true);
  });

  test('acknowledging an unknown batch is refused', async () => {
    const spool = await openSpool({ dir: await spoolDir() });
    await expect(spool.acknowledge(7)).rejects.toThrow(RangeError);
  });

  test('a closed spool refuses work; close is idempotent', async () => {
    const spool = await openSpool({ dir: await spoolDir() });
    await spool.close();
    await spool.close();
    await expect(spool.append([record('a', 1)])).rejects.toThrow('Spool is closed');
  });

  test('bad options name the option and the value', async () => {
    const dir = await spoolDir();
    await expect(openSpool({ dir, maxBytes: 0 })).rejects.toThrow('spool.maxBytes must be a positive integer, received 0');
    await expect(openSpool({ dir: '' })).rejects.toThrow(TypeError);
  });
});
