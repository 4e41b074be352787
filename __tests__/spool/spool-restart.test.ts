import { afterEach, describe, expect, test } from '@jest/globals';
import { CUT, Spool } from '../../lib/modes/batch/spool/index.js';
import { drain, openSpool, recordsOf, removeSpoolDirs, spoolDir, take } from '../helpers/spool.js';

afterEach(removeSpoolDirs);

describe('a restart resends what was fixed and not acknowledged, identically, then goes on', () => {
  test('unacknowledged batches come back first with the same bytes, sequence, offset and key', async () => {
    const dir = await spoolDir();
    const first = await openSpool({ dir, segmentBytes: 64 });
    const uploadId = first.uploadId;
    await first.append(['aaaa', 'bbbb', 'cccc', 'dddd', 'eeee', 'ffff'].map((text) => Buffer.from(text)));
    const sent = [(await take(first, 8, false))!, (await take(first, 8, false))!, (await take(first, 8, false))!];
    expect(sent.map((batch) => batch.bytes.toString())).toEqual(['aaaabbbb', 'ccccdddd', 'eeeeffff']);
    // Batch 1 is acknowledged (out of order); 0 and 2 were in flight when the process went.
    await first.acknowledge(1);
    await first.append([Buffer.from('gggg')]); // appended, never cut
    await first.close();

    const second = await openSpool({ dir, segmentBytes: 64 });
    expect(second.uploadId).toBe(uploadId);
    expect(second.bytesStored).toBe(20);
    // A smaller buffer this time: an old batch that no longer fits comes in its own Buffer, unchanged.
    const resent = [(await take(second, 4, false))!, (await take(second, 4, false))!];
    expect(resent).toEqual([
      { ...sent[0], bytes: sent[0]!.bytes },
      { ...sent[2], bytes: sent[2]!.bytes },
    ]);
    expect(resent[0]!.records).toEqual([4, 4]);
    // Then new batches, with sequence and offset going on from the last fixed batch.
    await second.append([Buffer.from('hh')]);
    const next = await take(second, 100, true);
    expect(next).toMatchObject({ sequence: 3, offset: 24, key: `${uploadId}-3`, records: [4, 2] });
    expect(next!.bytes.toString()).toBe('gggghh');
    for (const batch of [...resent, next!]) await second.acknowledge(batch.sequence);
    expect(second.empty).toBe(true);
    await second.close();

    const third = await openSpool({ dir, segmentBytes: 64 });
    expect(third.empty).toBe(true);
    expect(third.bytesStored).toBe(0);
    await third.append([Buffer.from('i')]);
    expect(await take(third, 8, true)).toMatchObject({ sequence: 4, offset: 30, key: `${uploadId}-4` });
  });

  test('a batch handed out again after a restart and acknowledged then is gone for good', async () => {
    const dir = await spoolDir();
    const first = await openSpool({ dir });
    await first.append([Buffer.from('abc'), CUT]);
    const batch = (await take(first, 8, false))!;
    await first.close();
    const second = await openSpool({ dir });
    expect(await take(second, 8, false)).toEqual(batch);
    await second.acknowledge(batch.sequence);
    await second.close();
    const third = await openSpool({ dir });
    expect(await third.nextBatch(Buffer.alloc(8), true)).toBeUndefined();
    expect(third.empty).toBe(true);
  });

  test('a new spool gets a new upload id; the journal keeps it', async () => {
    const one = await openSpool({ dir: await spoolDir() });
    const other = await openSpool({ dir: await spoolDir() });
    expect(one.uploadId).toMatch(/^[0-9a-f-]{36}$/);
    expect(one.uploadId).not.toBe(other.uploadId);
  });

  test('the journal is compacted as it grows and still replays to the same state', async () => {
    const dir = await spoolDir();
    const first = await openSpool({ dir, segmentBytes: 4096 });
    const kept: string[] = [];
    // ~20k journal entries (fix + ack): well past the 1 MiB at which it is rewritten.
    for (let round = 0; round < 100; round++) {
      await first.append(Array.from({ length: 100 }, (_, index) => Buffer.from(`${round}:${index};`)));
      for (const batch of await drain(first, 1)) kept.push(...recordsOf(batch).map(String));
    }
    await first.append([Buffer.from('last')]);
    const open = (await take(first, 8, true))!;
    await first.close();
    expect(kept).toHaveLength(10_000);
    const second = await Spool.open({ dir, segmentBytes: 4096 });
    try {
      expect(await take(second, 8, true)).toEqual(open);
      expect(open.sequence).toBe(10_000);
    } finally {
      await second.close();
    }
  });
});
