/**
 * Damage is never taken for a torn tail: only a last unit cut short (or
 * zeros where no unit was written) is cut at open. A whole unit whose crc32
 * fails, the last group of the last segment and the journal's last entry
 * included, fails the open with ERR_BHW_SPOOL_CORRUPT, and nothing is sent.
 * An open that fails leaves the directory as it found it, byte for byte.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { once } from 'node:events';
import { appendFile, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BufferedHttpWritable } from '../../lib/index.js';
import { ErrorCodes } from '../../lib/errors.js';
import { SpoolCorruptError } from '../../lib/spool-errors.js';
import { CUT, Spool } from '../../lib/modes/batch/spool/index.js';
import { segmentName } from '../../lib/modes/batch/spool/segments.js';
import { startBatchServer, type BatchServer } from '../helpers/batch-server.js';
import { openSpool, record, removeSpoolDirs, spoolDir, take } from '../helpers/spool.js';

let server: BatchServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  await removeSpoolDirs();
});

/** One append of a 100-byte record and a CUT: a 12-byte unit header, the record, two table entries and the count. */
const GROUP = 124;
/** One append of a 100-byte record alone. */
const PLAIN_GROUP = 120;

/** Five appends of one 100-byte record each, the third in a batch already fixed in the journal. */
async function spoolWithFiveGroups(): Promise<string> {
  const dir = await spoolDir();
  const spool = await Spool.open({ dir });
  for (let index = 0; index < 5; index++) await spool.append([record(String(index), 100), CUT]);
  await take(spool, 1000, false);
  await spool.close();
  return dir;
}

async function flipByte(path: string, position: number): Promise<void> {
  const bytes = await readFile(path);
  bytes[position] = bytes[position]! ^ 0x40;
  await writeFile(path, bytes);
}

/** Every file in the directory, with its bytes: what a failed open must leave as it was. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) files[name] = (await readFile(join(dir, name))).toString('base64');
  return files;
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
  expect((error as SpoolCorruptError).code).toBe(ErrorCodes.SPOOL_CORRUPT);
  return error as SpoolCorruptError;
}

describe('a whole last group whose crc32 fails is damage, not a torn tail', () => {
  test('a flipped byte in the last group of the last segment fails the open, naming the segment and the group', async () => {
    const dir = await spoolWithFiveGroups();
    const segment = join(dir, segmentName(0));
    await flipByte(segment, 4 * GROUP + 50);
    const before = await snapshot(dir);
    const error = await openError(dir);
    expect(error).toMatchObject({ file: segment, position: 4 * GROUP });
    expect(error.message).toContain('bad checksum');
    expect(await snapshot(dir)).toEqual(before);
  });

  test('its last 40 bytes zeroed: the same', async () => {
    const dir = await spoolWithFiveGroups();
    const segment = join(dir, segmentName(0));
    const bytes = await readFile(segment);
    bytes.fill(0, bytes.length - 40);
    await writeFile(segment, bytes);
    const error = await openError(dir);
    expect(error).toMatchObject({ file: segment, position: 4 * GROUP });
  });

  test('through the writable: the stream errors with ERR_BHW_SPOOL_CORRUPT and nothing is sent', async () => {
    server = await startBatchServer();
    const dir = await spoolWithFiveGroups();
    await flipByte(join(dir, segmentName(0)), 4 * GROUP + 50);
    const upload = new BufferedHttpWritable(server.url, { mode: 'batch', spool: { dir } });
    const [error] = (await once(upload, 'error')) as [SpoolCorruptError];
    expect(error).toMatchObject({ code: ErrorCodes.SPOOL_CORRUPT, file: join(dir, segmentName(0)), position: 4 * GROUP });
    expect(server.attempts).toEqual([]);
  });

  test('a group cut short is still a torn tail: cut, the groups before it kept', async () => {
    const dir = await spoolWithFiveGroups();
    const segment = join(dir, segmentName(0));
    await writeFile(segment, (await readFile(segment)).subarray(0, 5 * GROUP - 1));
    const spool = await openSpool({ dir });
    expect(spool.bytesStored).toBe(400);
    expect((await stat(segment)).size).toBe(4 * GROUP);
  });
});

describe('an open that fails changes nothing on disk', () => {
  test('a flipped byte in the journal last entry: fails twice, the directory byte-identical, no new upload id', async () => {
    const dir = await spoolWithFiveGroups();
    const journal = join(dir, 'journal');
    // The last entry is the fix of batch 0; its JSON is its last bytes.
    await flipByte(journal, (await stat(journal)).size - 5);
    const before = await snapshot(dir);
    const first = await openError(dir);
    expect(first.file).toBe(journal);
    expect(await snapshot(dir)).toEqual(before);
    const second = await openError(dir);
    expect(second.position).toBe(first.position);
    expect(await snapshot(dir)).toEqual(before);
  });

  test('acknowledged segments are not deleted, nor a torn journal tail cut, when a later check fails', async () => {
    const dir = await spoolDir();
    const spool = await Spool.open({ dir, segmentBytes: 10 });
    await spool.append([record('a', 100)]);
    await spool.acknowledge((await take(spool, 1000, true))!.sequence);
    // The first segment is wholly acknowledged but stays while it is the last; the next append starts another.
    await spool.append([record('b', 100)]);
    // A close deletes the acknowledged segment; a process that died first leaves it: put it back as a crash would.
    const acknowledged = (await readdir(dir)).filter((name) => name.startsWith('seg-')).sort()[0]!;
    const kept = await readFile(join(dir, acknowledged));
    await spool.close();
    await writeFile(join(dir, acknowledged), kept, { mode: 0o600 });
    expect((await readdir(dir)).filter((name) => name.startsWith('seg-'))).toHaveLength(2);
    await appendFile(join(dir, 'journal'), Buffer.from([1, 2, 3]));
    await flipByte(join(dir, segmentName(PLAIN_GROUP)), PLAIN_GROUP - 10);
    const before = await snapshot(dir);
    const error = await openError(dir);
    expect(error).toMatchObject({ file: join(dir, segmentName(PLAIN_GROUP)), position: 0 });
    expect(await snapshot(dir)).toEqual(before);
  });

  test('segments without a journal: the journal is not created', async () => {
    const dir = await spoolWithFiveGroups();
    await writeFile(join(dir, 'journal'), Buffer.from([7, 7, 7]));
    const before = await snapshot(dir);
    await openError(dir);
    expect(await snapshot(dir)).toEqual(before);
  });
});
