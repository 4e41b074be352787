import { afterEach, describe, expect, test } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { CUT, Spool } from '../../lib/modes/batch/spool/index.js';
import { drain, openSpool, record, recordsOf, removeSpoolDirs, spoolDir, take } from '../helpers/spool.js';

afterEach(removeSpoolDirs);

describe('with fsync, the same spool: every append, batch identity and set-aside synced before it resolves', () => {
  test('rotation, a batch larger than the read buffer resent after a restart, a set-aside, and a drain', async () => {
    const dir = await spoolDir();
    const first = await Spool.open({ dir, fsync: true, segmentBytes: 1024 });
    const big = record('0123456789abcdef', 300 << 10); // larger than the spool's 256 KiB read buffer
    await first.append([record('a', 500), record('b', 500), CUT, big, record('c', 700)]);
    const batches = [(await take(first, 1000, false))!, (await take(first, 1000, false))!];
    expect(batches[1]!.bytes.equals(big)).toBe(true);
    await first.close();

    const second = await openSpool({ dir, fsync: true, segmentBytes: 1024 });
    expect(await take(second, 1000, false)).toEqual(batches[0]);
    expect(await take(second, 1000, false)).toEqual(batches[1]);
    const path = await second.setAside(batches[0]!.sequence, { statusCode: 422, body: 'unprocessable' });
    expect(await readFile(path)).toEqual(batches[0]!.bytes);
    await second.acknowledge(batches[1]!.sequence);
    const rest = await drain(second, 1000);
    expect(rest.flatMap(recordsOf)).toEqual([record('c', 700)]);
    expect(second.empty).toBe(true);
  });
});
