/**
 * Every file system failure of the spool is ERR_BHW_SPOOL_IO (SpoolIoError)
 * with the system code and the path: a full disk (a short write goes on
 * until the system says why), a read-only file system, a parent that is a
 * file, a path where no directory can be made (/proc/spool, which hung).
 * The full and read-only cases mount a small tmpfs, which needs root: they
 * are skipped, with the reason in their name, where mount is refused.
 */
import { afterAll, afterEach, describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BufferedHttpWritable } from '../../lib/index.js';
import { ErrorCodes } from '../../lib/errors.js';
import { SpoolIoError } from '../../lib/spool-errors.js';
import { CUT, Spool, type SpoolRecord } from '../../lib/modes/batch/spool/index.js';
import { startBatchServer, type BatchServer } from '../helpers/batch-server.js';
import { record, removeSpoolDirs, spoolDir } from '../helpers/spool.js';

/** A 1 MiB tmpfs at a fresh directory (options such as `ro`), or why there is none. */
function mountTmpfs(options: string): { path: string } | { reason: string } {
  const path = execFileSync('mktemp', ['-d', join(tmpdir(), 'bhw-tmpfs-XXXXXX')], { encoding: 'utf8' }).trim();
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=1m,${options}`, 'tmpfs', path], { stdio: 'pipe' });
    return { path };
  } catch (error) {
    execFileSync('rmdir', [path]);
    return { reason: String((error as { stderr?: Buffer }).stderr ?? error).trim() || 'mount failed' };
  }
}

const mounts: string[] = [];
function onTmpfs(options: string): { path: string; run: typeof test | typeof test.skip; why: string } {
  const mounted = mountTmpfs(options);
  if ('reason' in mounted) return { path: '', run: test.skip, why: ` (skipped: cannot mount a tmpfs: ${mounted.reason})` };
  mounts.push(mounted.path);
  return { path: mounted.path, run: test, why: '' };
}

afterAll(async () => {
  for (const path of mounts.splice(0)) {
    execFileSync('umount', [path]);
    await rm(path, { recursive: true, force: true });
  }
});

let server: BatchServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  await removeSpoolDirs();
});

function expectSpoolIoError(error: unknown, systemCode: string, path: string | RegExp): void {
  expect(error).toBeInstanceOf(SpoolIoError);
  const io = error as SpoolIoError;
  expect(io.code).toBe(ErrorCodes.SPOOL_IO);
  expect(io.systemCode).toBe(systemCode);
  if (typeof path === 'string') expect(io.path).toBe(path);
  else expect(io.path).toMatch(path);
  expect(io.message).toContain(systemCode);
  expect(io.message).toContain(io.path);
  expect(io.message).toContain('not yet confirmed');
}

// Each describe mounts its tmpfs while Jest collects the tests, so each test knows whether it can run.
describe('a full disk', () => {
  const disk = onTmpfs('mode=0700');
  disk.run(`an append that does not fit: ENOSPC naming the segment, not a short write${disk.why}`, async () => {
    const dir = join(disk.path, 'append');
    const spool = await Spool.open({ dir });
    let error: unknown;
    let appended = 0;
    try {
      // 68 KiB groups: the one that does not fit is first written in part.
      for (;;) {
        await spool.append([record('x', 68 << 10)]);
        appended++;
      }
    } catch (caught) {
      error = caught;
    }
    expectSpoolIoError(error, 'ENOSPC', /seg-\d{20}\.log$/);
    expect(appended).toBeGreaterThan(0);
    // What did not fit was cut: the segments hold the confirmed appends only.
    const sizes = await Promise.all((await readdir(dir)).filter((name) => name.startsWith('seg-')).map(async (name) => (await stat(join(dir, name))).size));
    expect(sizes.reduce((sum, size) => sum + size, 0)).toBe(appended * (12 + (68 << 10) + 8));
    await spool.close();
    await rm(dir, { recursive: true });
  });

  disk.run(`a journal entry that does not fit: ENOSPC naming the journal${disk.why}`, async () => {
    const dir = join(disk.path, 'journal');
    const spool = await Spool.open({ dir });
    await spool.append(Array.from({ length: 64 }, (_, index): SpoolRecord[] => [record(String(index % 10), 10), CUT]).flat());
    // Fill what is left of the disk, then fix batches until the journal needs a page more.
    const filler = join(disk.path, 'filler');
    await writeFile(filler, Buffer.alloc(2 << 20)).catch(() => {});
    let error: unknown;
    try {
      for (;;) if (!(await spool.nextBatch(Buffer.alloc(100), false))) break;
    } catch (caught) {
      error = caught;
    }
    expectSpoolIoError(error, 'ENOSPC', join(dir, 'journal'));
    await spool.close();
    await rm(dir, { recursive: true });
    await rm(filler);
  });

  disk.run(`through the writable: the stream errors with ERR_BHW_SPOOL_IO, ENOSPC${disk.why}`, async () => {
    server = await startBatchServer(() => ({ kind: 'hold' }));
    const dir = join(disk.path, 'writable');
    const upload = new BufferedHttpWritable(server.url, { mode: 'batch', highWaterMark: 64 << 10, spool: { dir } });
    let confirmed = 0;
    const failed = once(upload, 'error');
    const line = `${'y'.repeat(16 << 10)}\n`;
    const writeMore = (): void => {
      while (!upload.destroyed && upload.write(line, (error) => (error ? undefined : confirmed++)));
      if (!upload.destroyed) upload.once('drain', writeMore);
    };
    writeMore();
    const [error] = (await failed) as [SpoolIoError];
    expectSpoolIoError(error, 'ENOSPC', new RegExp(`^${dir}/`));
    expect(confirmed).toBeGreaterThan(0);
    // The records whose callbacks fired are the ones the spool keeps.
    expect(error.spool?.bytesStored).toBe(confirmed * line.length);
    await rm(dir, { recursive: true });
  });
});

describe('a read-only file system', () => {
  const disk = onTmpfs('ro,mode=0700');
  disk.run(`a spool directory that cannot be made: EROFS naming it${disk.why}`, async () => {
    const dir = join(disk.path, 'spool');
    const error = await Spool.open({ dir }).catch((caught: unknown) => caught);
    expectSpoolIoError(error, 'EROFS', dir);
  });

  disk.run(`an existing spool remounted read-only: EROFS on the lock${disk.why}`, async () => {
    execFileSync('mount', ['-o', 'remount,rw', disk.path]);
    const dir = join(disk.path, 'existing');
    const spool = await Spool.open({ dir });
    await spool.append([record('a', 10)]);
    await spool.close();
    execFileSync('mount', ['-o', 'remount,ro', disk.path]);
    const error = await Spool.open({ dir }).catch((caught: unknown) => caught);
    expectSpoolIoError(error, 'EROFS', join(dir, `lock.${process.pid}`));
  });
});

describe('a path that is no directory', () => {
  test('a parent that is a file: ENOTDIR, through the writable', async () => {
    server = await startBatchServer();
    const parent = join(await spoolDir(), '..', 'a-file');
    await writeFile(parent, 'not a directory');
    const dir = join(parent, 'spool');
    const upload = new BufferedHttpWritable(server.url, { mode: 'batch', spool: { dir } });
    const [error] = (await once(upload, 'error')) as [SpoolIoError];
    expectSpoolIoError(error, 'ENOTDIR', dir);
    expect(server.attempts).toEqual([]);
  });

  test('the spool path itself a file: ENOTDIR', async () => {
    const dir = await spoolDir();
    await writeFile(dir, 'not a directory');
    expectSpoolIoError(await Spool.open({ dir }).catch((caught: unknown) => caught), 'ENOTDIR', dir);
  });

  test('/proc/spool fails instead of hanging: ENOENT', async () => {
    server = await startBatchServer();
    const upload = new BufferedHttpWritable(server.url, { mode: 'batch', spool: { dir: '/proc/spool' } });
    const [error] = (await once(upload, 'error')) as [SpoolIoError];
    expectSpoolIoError(error, 'ENOENT', '/proc/spool');
  });

  test('a missing parent is made, as mkdir -p does', async () => {
    const dir = join(await spoolDir(), 'a', 'b');
    const spool = await Spool.open({ dir });
    await spool.close();
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
  });
});
