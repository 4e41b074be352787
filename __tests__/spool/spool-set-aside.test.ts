import { afterEach, describe, expect, test } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Spool } from '../../lib/modes/batch/spool/index.js';
import { openSpool, record, removeSpoolDirs, spoolDir, take } from '../helpers/spool.js';

afterEach(removeSpoolDirs);

describe('a batch refused permanently is set aside once, and the next start goes on after it', () => {
  test('setAside writes the bytes and the answer under rejected/, and the batch is not handed out again', async () => {
    const dir = await spoolDir();
    const first = await Spool.open({ dir });
    await first.append([record('a', 4), record('b', 4), record('c', 4), record('d', 4)]);
    const refused = (await take(first, 8, false))!;
    const kept = (await take(first, 8, false))!;
    const body = `{"error":"bad record"}${'x'.repeat(10_000)}`;
    const path = await first.setAside(refused.sequence, { statusCode: 400, body });
    expect(path).toBe(join(dir, 'rejected', `${refused.key}.bin`));
    expect(await readFile(path)).toEqual(refused.bytes);
    const about = JSON.parse(await readFile(join(dir, 'rejected', `${refused.key}.json`), 'utf8')) as Record<string, unknown>;
    expect(about).toMatchObject({ statusCode: 400, sequence: 0, offset: 0, key: refused.key, bytes: 8, records: 2 });
    expect((about.body as string).length).toBe(4096);
    expect(new Date(about.time as string).getTime()).not.toBeNaN();
    expect(first.bytesStored).toBe(8);
    await expect(first.setAside(refused.sequence, { statusCode: 400, body: '' })).rejects.toThrow(RangeError);
    await first.close();

    // The next start resends only the batch still open, then goes on.
    const second = await openSpool({ dir });
    expect(await take(second, 8, false)).toEqual(kept);
    await second.append([record('e', 1)]);
    expect(await take(second, 8, true)).toMatchObject({ sequence: 2, offset: 16 });
  });

  test('a batch from an earlier run can be set aside before it is handed out again', async () => {
    const dir = await spoolDir();
    const first = await Spool.open({ dir });
    await first.append([record('a', 4)]);
    const refused = (await take(first, 8, true))!;
    await first.close();
    const second = await openSpool({ dir });
    await second.setAside(refused.sequence, { statusCode: 413, body: 'too large' });
    expect(await second.nextBatch(Buffer.alloc(8), true)).toBeUndefined();
    expect(second.empty).toBe(true);
  });
});
