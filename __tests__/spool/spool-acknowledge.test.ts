import { afterEach, describe, expect, test } from '@jest/globals';
import { readdir } from 'node:fs/promises';
import { CUT } from '../../lib/modes/batch/spool/index.js';
import { openSpool, record, recordsOf, removeSpoolDirs, spoolDir, take } from '../helpers/spool.js';

afterEach(removeSpoolDirs);

const segmentFiles = async (dir: string): Promise<string[]> => (await readdir(dir)).filter((name) => name.startsWith('seg-')).sort();

describe('acknowledged batches leave the spool; whole segment files go once every batch in them is acknowledged', () => {
  test('out-of-order acknowledgements delete segments only behind the oldest open batch', async () => {
    const dir = await spoolDir();
    // 100-byte records and a CUT (124 bytes an append) in segments of 200 bytes: two appends per segment.
    const spool = await openSpool({ dir, segmentBytes: 200 });
    for (let index = 0; index < 8; index++) await spool.append([record(String(index), 100), CUT]);
    expect(await segmentFiles(dir)).toHaveLength(4);
    const batches = [];
    for (let index = 0; index < 8; index++) batches.push((await take(spool, 100, false))!);
    expect(batches.map((batch) => batch.sequence)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);

    await spool.acknowledge(1);
    await spool.acknowledge(3);
    await spool.acknowledge(2);
    // Batch 0 is still open: its segment holds every later one back.
    expect(await segmentFiles(dir)).toHaveLength(4);
    expect(spool.bytesStored).toBe(500);
    await spool.acknowledge(0);
    // 0-3 acknowledged: the first two segments go; the one of 4 and 5 stays.
    expect(await segmentFiles(dir)).toHaveLength(2);
    await spool.acknowledge(5);
    await spool.acknowledge(4);
    await spool.acknowledge(7);
    await spool.acknowledge(6);
    // The segment being appended to stays until the next one starts.
    expect(await segmentFiles(dir)).toHaveLength(1);
    expect(spool.bytesStored).toBe(0);
    expect(spool.empty).toBe(true);
    await spool.append([record('x', 100)]);
    expect(await take(spool, 100, true)).toMatchObject({ sequence: 8, offset: 800 });
  });

  test('at open, segments that are wholly acknowledged are deleted', async () => {
    const dir = await spoolDir();
    const first = await openSpool({ dir, segmentBytes: 200 });
    for (let index = 0; index < 4; index++) await first.append([record(String(index), 100), CUT]);
    for (let index = 0; index < 4; index++) await first.acknowledge((await take(first, 100, false))!.sequence);
    // Two appends of 124 bytes fill a 200-byte segment; the last segment is kept while appends may come.
    expect(await segmentFiles(dir)).toEqual(['seg-00000000000000000248.log']);
    await first.close();
    const second = await openSpool({ dir, segmentBytes: 200 });
    expect(await segmentFiles(dir)).toHaveLength(0);
    await second.append([record('y', 3)]);
    expect(await segmentFiles(dir)).toEqual(['seg-00000000000000000496.log']);
    expect(await take(second, 100, true)).toMatchObject({ sequence: 4, offset: 400, records: [3] });
  });
  test('close deletes the last segment once everything in it is acknowledged, and keeps it while a record in it is not', async () => {
    const dir = await spoolDir();
    const first = await openSpool({ dir, segmentBytes: 200 });
    await first.append([record('a', 100), CUT]);
    await first.append([record('b', 100), CUT]);
    await first.acknowledge((await take(first, 100, false))!.sequence);
    // 'b' is in the last segment, not even read: it stays.
    await first.close();
    expect(await segmentFiles(dir)).toHaveLength(1);
    const second = await openSpool({ dir, segmentBytes: 200 });
    await second.acknowledge((await take(second, 100, false))!.sequence);
    await second.close();
    expect(await segmentFiles(dir)).toEqual([]);
    // The positions go on from where the deleted segment ended.
    const third = await openSpool({ dir, segmentBytes: 200 });
    await third.append([record('c', 3)]);
    expect(await segmentFiles(dir)).toEqual(['seg-00000000000000000248.log']);
    expect(await take(third, 100, true)).toMatchObject({ sequence: 2, offset: 200, records: [3] });
  });
});

describe('a full spool pushes back and drops nothing', () => {
  test('append waits while the records would pass maxBytes, and resumes when an acknowledgement frees room', async () => {
    const dir = await spoolDir();
    let fullCalls = 0;
    let signalFull!: () => void;
    const becameFull = new Promise<void>((resolve) => (signalFull = resolve));
    const spool = await openSpool({ dir, maxBytes: 300, onFull: () => (fullCalls++, signalFull()) });
    await spool.append([record('a', 100), record('b', 100), record('c', 100)]);
    expect(spool.bytesStored).toBe(300);
    let appended = false;
    const pending = spool.append([record('d', 100), record('e', 50)]).then(() => {
      appended = true;
    });
    await becameFull;
    const first = (await take(spool, 100, false))!;
    // Reading a batch frees nothing: only an acknowledgement does.
    expect(appended).toBe(false);
    expect(spool.full).toBe(true);
    expect(fullCalls).toBe(1);
    await spool.acknowledge(first.sequence);
    // 100 bytes free: 'd' goes in; 'e' waits for the next acknowledgement.
    const second = (await take(spool, 100, false))!;
    expect(appended).toBe(false);
    await spool.acknowledge(second.sequence);
    await pending;
    expect(appended).toBe(true);
    expect(spool.bytesStored).toBe(250);
    const rest = [];
    for (let batch = await take(spool, 100, true); batch; batch = await take(spool, 100, true)) rest.push(batch);
    expect([first, second, ...rest].flatMap(recordsOf).map((each) => each.toString()[0])).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  test('while an append waits for room, nextBatch cuts what there is: the two cannot wait on each other', async () => {
    let signalFull!: () => void;
    const becameFull = new Promise<void>((resolve) => (signalFull = resolve));
    const spool = await openSpool({ dir: await spoolDir(), maxBytes: 100, onFull: () => signalFull() });
    await spool.append([record('a', 60)]);
    const pending = spool.append([record('b', 60)]);
    await becameFull;
    expect(spool.full).toBe(true);
    const batch = (await take(spool, 1000, false))!;
    expect(batch.records).toEqual([60]);
    await spool.acknowledge(batch.sequence);
    await pending;
    expect(spool.bytesStored).toBe(60);
  });

  test('a single record larger than maxBytes is refused with ERR_BHW_SPOOL_RECORD_TOO_LARGE, nothing stored', async () => {
    const spool = await openSpool({ dir: await spoolDir(), maxBytes: 100 });
    await expect(spool.append([record('a', 10), record('b', 101)])).rejects.toMatchObject({
      code: 'ERR_BHW_SPOOL_RECORD_TOO_LARGE',
      recordBytes: 101,
      maxBytes: 100,
    });
    expect(spool.bytesStored).toBe(0);
  });

  test('close rejects an append that waits for room; what was appended before stays', async () => {
    const dir = await spoolDir();
    const spool = await openSpool({ dir, maxBytes: 10 });
    await spool.append([record('a', 10)]);
    const pending = spool.append([record('b', 1)]);
    await spool.close();
    await expect(pending).rejects.toThrow('Spool closed while an append waited for room');
    const again = await openSpool({ dir, maxBytes: 10 });
    expect(again.bytesStored).toBe(10);
  });
});
