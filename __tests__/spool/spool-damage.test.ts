import { afterEach, describe, expect, test } from '@jest/globals';
import { appendFile, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCodes } from '../../lib/errors.js';
import { SpoolCorruptError } from '../../lib/spool-errors.js';
import { encodeFrame } from '../../lib/modes/batch/spool/frame.js';
import { CUT, Spool } from '../../lib/modes/batch/spool/index.js';
import { drain, openSpool, record, recordsOf, removeSpoolDirs, spoolDir, take } from '../helpers/spool.js';

afterEach(removeSpoolDirs);

/** One append of one 10-byte record is a group: a 12-byte unit header, the record, its 4-byte table entry and the 4-byte count. */
const FRAME = 30;
const SEGMENT = 'seg-00000000000000000000.log';

async function spoolWithTenRecords(): Promise<string> {
  const dir = await spoolDir();
  const spool = await Spool.open({ dir });
  for (let index = 0; index < 10; index++) await spool.append([record(String(index), 10)]);
  await spool.close();
  return dir;
}

async function flipByte(path: string, position: number): Promise<void> {
  const bytes = await readFile(path);
  bytes[position] = bytes[position]! ^ 0x40;
  await writeFile(path, bytes);
}

async function openError(dir: string): Promise<SpoolCorruptError> {
  const error = await Spool.open({ dir }).then(
    async (spool) => {
      await spool.close();
      throw new Error('open succeeded on a damaged spool');
    },
    (error: unknown) => error,
  );
  expect(error).toBeInstanceOf(SpoolCorruptError);
  return error as SpoolCorruptError;
}

describe('a torn tail (the last append of a process that died) is cut off on open without an error', () => {
  test('a record frame cut short in the last segment', async () => {
    const dir = await spoolWithTenRecords();
    await truncate(join(dir, SEGMENT), 10 * FRAME - 4);
    const spool = await openSpool({ dir });
    expect(spool.bytesStored).toBe(90);
    expect((await stat(join(dir, SEGMENT))).size).toBe(9 * FRAME);
    const batches = await drain(spool, 1000);
    expect(batches.flatMap(recordsOf).map(String)).toEqual(Array.from({ length: 9 }, (_, index) => String(index).repeat(10)));
    // Appends go on after the cut, not after the torn bytes.
    await spool.append([record('n', 3)]);
    expect((await take(spool, 100, true))!.bytes.toString()).toBe('nnn');
  });

  test('a header cut short, and zeros where a power loss left the file longer than what was written', async () => {
    const dir = await spoolWithTenRecords();
    await appendFile(join(dir, SEGMENT), Buffer.from([10, 0, 0]));
    expect((await openSpool({ dir })).bytesStored).toBe(100);
    await removeSpoolDirs();

    const other = await spoolWithTenRecords();
    await appendFile(join(other, SEGMENT), Buffer.alloc(4096));
    const spool = await openSpool({ dir: other });
    expect(spool.bytesStored).toBe(100);
    expect((await stat(join(other, SEGMENT))).size).toBe(10 * FRAME);
  });

  test('a journal entry cut short: the batches fixed before it come back', async () => {
    const dir = await spoolDir();
    const first = await Spool.open({ dir });
    await first.append([record('a', 10), record('b', 10)]);
    const fixed = (await take(first, 10, false))!;
    await first.close();
    const journal = join(dir, 'journal');
    const bytes = await readFile(journal);
    const size = bytes.length;
    // A dying append leaves a prefix of its frame: here, of a copy of the last entry.
    let last = 0;
    for (let position = 0; position < size; position += 12 + (bytes.readUInt32LE(position) & 0x7fffffff)) last = position;
    await appendFile(journal, bytes.subarray(last, last + 20));

    const second = await openSpool({ dir });
    expect((await stat(journal)).size).toBe(size);
    expect(await take(second, 10, false)).toEqual(fixed);
    expect((await take(second, 10, true))!.bytes.toString()).toBe('b'.repeat(10));
  });
});

describe('damage anywhere else fails the open with ERR_BHW_SPOOL_CORRUPT naming the file and byte offset', () => {
  test('a flipped byte in a record in the middle of a segment', async () => {
    const dir = await spoolWithTenRecords();
    await flipByte(join(dir, SEGMENT), 3 * FRAME + 20 + 5);
    const error = await openError(dir);
    expect(error.code).toBe(ErrorCodes.SPOOL_CORRUPT);
    expect(error.file).toBe(join(dir, SEGMENT));
    expect(error.position).toBe(3 * FRAME);
    expect(error.message).toContain(`${join(dir, SEGMENT)} is damaged at byte ${3 * FRAME}`);
  });

  test('a flipped byte in a group length is not taken for a torn tail', async () => {
    const dir = await spoolWithTenRecords();
    await flipByte(join(dir, SEGMENT), 2 * FRAME + 1);
    const error = await openError(dir);
    expect(error.position).toBe(2 * FRAME);
  });

  test('a flipped byte in a journal entry that is not the last', async () => {
    const dir = await spoolDir();
    const spool = await Spool.open({ dir });
    await spool.append([record('a', 10), record('b', 10)]);
    await take(spool, 10, false);
    await take(spool, 10, false);
    await spool.close();
    // The journal: start entry, fix 0, fix 1. Damage the start entry's JSON.
    await flipByte(join(dir, 'journal'), 20);
    const error = await openError(dir);
    expect(error.file).toBe(join(dir, 'journal'));
    expect(error.position).toBe(0);
  });

  test('the lock is released when open fails, so the spool can be repaired and opened', async () => {
    const dir = await spoolWithTenRecords();
    await flipByte(join(dir, SEGMENT), FRAME + 14);
    await openError(dir);
    await expect(stat(join(dir, 'lock'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('record segments without a journal', async () => {
    const dir = await spoolWithTenRecords();
    await writeFile(join(dir, 'journal'), '');
    const error = await openError(dir);
    expect(error.file).toBe(join(dir, 'journal'));
  });
});

describe('the journal and the segments must agree: a missing or cut file is damage, not a torn tail', () => {
  async function spoolWithOpenBatches(): Promise<string> {
    const dir = await spoolDir();
    // 100-byte records, a CUT after each: 124 bytes an append (12 + 100 + 4 + 4 + 4), two appends a segment.
    const spool = await Spool.open({ dir, segmentBytes: 200 });
    for (let index = 0; index < 6; index++) await spool.append([record(String(index), 100), CUT]);
    for (let index = 0; index < 6; index++) await take(spool, 100, false);
    await spool.close();
    return dir;
  }
  const segment = (start: number): string => `seg-${String(start).padStart(20, '0')}.log`;

  test('a segment missing between two others', async () => {
    const dir = await spoolWithOpenBatches();
    await rm(join(dir, segment(248)));
    const error = await openError(dir);
    expect(error.file).toBe(join(dir, segment(0)));
    expect(error.position).toBe(248);
  });

  test('the first segment missing while its batches are open', async () => {
    const dir = await spoolWithOpenBatches();
    await rm(join(dir, segment(0)));
    const error = await openError(dir);
    expect(error.file).toBe(join(dir, segment(248)));
    expect(error.message).toContain('records from position 0 to 248 are missing');
  });

  test('the last segment cut at a frame boundary before batches the journal fixed', async () => {
    const dir = await spoolWithOpenBatches();
    await truncate(join(dir, segment(496)), 124);
    const error = await openError(dir);
    expect(error.file).toBe(join(dir, 'journal'));
    expect(error.message).toContain("past the records' end 620");
  });

  test('a journal entry whose checksum holds but whose content is not an entry', async () => {
    for (const payload of ['not json', '{"t":"mystery"}']) {
      const dir = await spoolWithOpenBatches();
      const journal = join(dir, 'journal');
      const position = (await stat(journal)).size;
      await appendFile(journal, Buffer.concat([encodeFrame(Buffer.from(payload)), encodeFrame(Buffer.from('{"t":"ack","sequence":0}'))]));
      const error = await openError(dir);
      expect(error.file).toBe(journal);
      expect(error.position).toBe(position);
      await removeSpoolDirs();
    }
  });

  test('a batch the journal fixed at a position that is no record boundary, or with a size its records do not have', async () => {
    const entries = [
      ['{"t":"fix","sequence":6,"offset":600,"from":700,"to":710,"bytes":10,"records":1}', 'journal position 700 is not a record boundary'],
      ['{"t":"fix","sequence":6,"offset":600,"from":0,"to":124,"bytes":99,"records":1}', 'batch 6 spans 100 bytes of records, the journal says 99'],
    ];
    for (const [entry, message] of entries) {
      const dir = await spoolWithOpenBatches();
      await appendFile(join(dir, 'journal'), encodeFrame(Buffer.from(entry!)));
      const error = await openError(dir);
      expect(error.file).toBe(join(dir, 'journal'));
      expect(error.message).toContain(message);
      await removeSpoolDirs();
    }
  });
});
