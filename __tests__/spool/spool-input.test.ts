/**
 * `spool.input`: the spool keeps, in its journal, which input its records
 * come from and where that input starts, so a producer reading a file learns
 * (`inputBytes`, the `'spool'` event) from which byte to go on. A spool
 * holding records of another input refuses the new one; 'finish' forgets it.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { once } from 'node:events';
import { BufferedHttpWritable, ErrorCodes, SpoolInputError, type SpoolOpened } from '../../lib/index.js';
import { Spool } from '../../lib/modes/batch/spool/index.js';
import { startBatchServer, type BatchServer } from '../helpers/batch-server.js';
import { drain, openSpool, record, removeSpoolDirs, spoolDir, take } from '../helpers/spool.js';

let server: BatchServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  await removeSpoolDirs();
});

describe('Spool.open({ input })', () => {
  test('the same input again: inputBytes counts what it took, batches acknowledged or not; another input is refused until the spool is empty', async () => {
    const dir = await spoolDir();
    const first = await Spool.open({ dir, input: 'file A' });
    expect(first.inputBytes).toBe(0);
    await first.append([record('a', 10), record('b', 20)]);
    // One batch acknowledged, one fixed and open, records unread: all count.
    await first.acknowledge((await take(first, 10, false))!.sequence);
    expect(await take(first, 20, false)).toMatchObject({ sequence: 1 });
    await first.append([record('c', 5)]);
    await first.close();

    const again = await Spool.open({ dir, input: 'file A' });
    expect(again.inputBytes).toBe(35);
    await again.close();

    const refused = Spool.open({ dir, input: 'file B' });
    await expect(refused).rejects.toBeInstanceOf(SpoolInputError);
    await expect(refused).rejects.toMatchObject({ code: ErrorCodes.SPOOL_INPUT, dir, spooledInput: 'file A', input: 'file B', bytesStored: 25 });
    // Refused before anything was written: the spool is as it was.
    const unnamed = await openSpool({ dir });
    expect(unnamed.inputBytes).toBe(35);
    await drain(unnamed, 20);
    await unnamed.close();

    const other = await openSpool({ dir, input: 'file B' });
    expect(other.inputBytes).toBe(0);
    await other.append([record('d', 7)]);
    await other.close();
    const reopened = await openSpool({ dir, input: 'file B' });
    expect(reopened.inputBytes).toBe(7);
  });
});

describe("the 'spool' event of a batch upload with a spool", () => {
  test('says how much of the input the spool took; a finished upload forgets the input', async () => {
    server = await startBatchServer();
    const dir = await spoolDir();
    const spoolOf = (input: string) => ({ mode: 'batch' as const, highWaterMark: 8, spool: { dir, input } });

    // A run that dies with records in the spool (the server answers nothing yet).
    server.paused = true;
    const first = new BufferedHttpWritable(server.url, spoolOf('log 1'));
    const [opened] = (await once(first, 'spool')) as [SpoolOpened];
    expect(opened).toEqual({ dir, bytesStored: 0, inputBytes: 0 });
    await new Promise<void>((resolve) => first.write('1234567\n', () => resolve()));
    first.destroy();
    await once(first, 'close');
    server.resume();

    const second = new BufferedHttpWritable(server.url, spoolOf('log 1'));
    const [resumed] = (await once(second, 'spool')) as [SpoolOpened];
    expect(resumed).toEqual({ dir, bytesStored: 8, inputBytes: 8 });
    second.end('abcdefg\n');
    await once(second, 'finish');

    const third = new BufferedHttpWritable(server.url, spoolOf('log 1'));
    expect(((await once(third, 'spool')) as [SpoolOpened])[0].inputBytes).toBe(0);
    third.end();
    await once(third, 'finish');
    expect(server.assembled().toString()).toBe('1234567\nabcdefg\n');
  });

  test('a spool holding another input: the upload fails with ERR_BHW_SPOOL_INPUT before any request', async () => {
    server = await startBatchServer();
    server.paused = true;
    const dir = await spoolDir();
    const first = new BufferedHttpWritable(server.url, { mode: 'batch', spool: { dir, input: 'log 1' } });
    await new Promise<void>((resolve) => first.write('x\n', () => resolve()));
    first.destroy();
    await once(first, 'close');

    const other = new BufferedHttpWritable(server.url, { mode: 'batch', spool: { dir, input: 'log 2' } });
    await expect(once(other, 'spool')).rejects.toMatchObject({ code: 'ERR_BHW_SPOOL_INPUT', spooledInput: 'log 1', bytesStored: 2 });
    expect(() => new BufferedHttpWritable(server!.url, { mode: 'batch', spool: { dir, input: '' } })).toThrow(
      'spool.input must be a non-empty string naming the input, received ""',
    );
  });
});
