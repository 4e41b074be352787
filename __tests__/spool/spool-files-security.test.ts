/**
 * The spool on disk is its owner's alone: a directory 0700 and files 0600
 * whatever the umask, no file opened through a symlink planted in the
 * directory, nothing created over a file already there, and a directory
 * another user owns (or may write into) refused unless the caller says so.
 * The tests run as root; those that chown to `nobody` are skipped otherwise.
 */
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { appendFile, chmod, chown, lstat, mkdir, readFile, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BufferedHttpWritable } from '../../lib/index.js';
import { ErrorCodes } from '../../lib/errors.js';
import { SpoolUnsafeError } from '../../lib/spool-errors.js';
import { encodeFrame } from '../../lib/modes/batch/spool/frame.js';
import { CUT, Spool } from '../../lib/modes/batch/spool/index.js';
import { segmentName } from '../../lib/modes/batch/spool/segments.js';
import { startBatchServer, type BatchServer } from '../helpers/batch-server.js';
import { openSpool, record, removeSpoolDirs, spoolDir, take } from '../helpers/spool.js';

const NOBODY = 65534;
const asRoot = process.geteuid?.() === 0 ? test : test.skip;

let umask: number;
let server: BatchServer | undefined;
beforeEach(() => {
  umask = process.umask(0o022);
});
afterEach(async () => {
  process.umask(umask);
  await server?.close();
  server = undefined;
  await removeSpoolDirs();
});

/** A file outside the spool that a planted link points at, and its content. */
async function victim(dir: string, name = 'victim'): Promise<string> {
  const path = join(dir, '..', name);
  await writeFile(path, 'precious\n', { mode: 0o600 });
  return path;
}

async function unsafeError(options: Parameters<typeof Spool.open>[0]): Promise<SpoolUnsafeError> {
  const error = await Spool.open(options).then(
    async (spool) => {
      await spool.close();
      throw new Error('the spool opened');
    },
    (error: unknown) => error,
  );
  expect(error).toBeInstanceOf(SpoolUnsafeError);
  expect((error as SpoolUnsafeError).code).toBe(ErrorCodes.SPOOL_UNSAFE);
  return error as SpoolUnsafeError;
}

const modeOf = async (path: string): Promise<number> => (await lstat(path)).mode & 0o777;

describe('the directory is 0700 and every file 0600, under umask 022', () => {
  test('directory, journal, lock, segments, rejected/ and its files', async () => {
    const dir = await spoolDir();
    const spool = await openSpool({ dir, segmentBytes: 10 });
    await spool.append([record('a', 10), CUT]);
    await spool.append([record('b', 10), CUT]);
    const refused = (await take(spool, 100, false))!;
    await spool.setAside(refused.sequence, { statusCode: 400, body: 'no' });
    expect(await modeOf(dir)).toBe(0o700);
    expect(await modeOf(join(dir, 'rejected'))).toBe(0o700);
    const files = (await readdir(dir)).filter((name) => name !== 'rejected');
    expect(files.filter((name) => !name.startsWith('seg-')).sort()).toEqual(['journal', 'lock']);
    expect(files.filter((name) => name.startsWith('seg-')).length).toBeGreaterThan(0);
    for (const name of files) expect([name, await modeOf(join(dir, name))]).toEqual([name, 0o600]);
    for (const name of await readdir(join(dir, 'rejected'))) expect(await modeOf(join(dir, 'rejected', name))).toBe(0o600);
  });

  test('an existing directory of this user that others may read is narrowed to 0700', async () => {
    const dir = await spoolDir();
    await mkdir(dir, { mode: 0o755 });
    await chmod(dir, 0o755);
    await openSpool({ dir });
    expect(await modeOf(dir)).toBe(0o700);
  });
});

describe('nothing in the spool is opened through a symlink', () => {
  test('a journal linked to a victim file: refused, the victim untouched', async () => {
    const dir = await spoolDir();
    await mkdir(dir);
    const target = await victim(dir);
    await symlink(target, join(dir, 'journal'));
    const error = await unsafeError({ dir });
    expect(error.path).toBe(join(dir, 'journal'));
    expect(error.message).toContain('symbolic link');
    expect(await readFile(target, 'utf8')).toBe('precious\n');
  });

  test('a dangling journal link: refused, its target not created', async () => {
    const dir = await spoolDir();
    await mkdir(dir);
    const target = join(dir, '..', 'created-by-the-spool');
    await symlink(target, join(dir, 'journal'));
    await unsafeError({ dir });
    await expect(lstat(target)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('a FIFO planted as the journal: refused, not waited on', async () => {
    const dir = await spoolDir();
    await mkdir(dir);
    execFileSync('mkfifo', [join(dir, 'journal')]);
    const error = await unsafeError({ dir });
    expect(error.path).toBe(join(dir, 'journal'));
    expect(error.message).toContain('not a regular file');
  });

  test('a lock.<pid> draft linked to a victim: the link is replaced, never written through', async () => {
    const dir = await spoolDir();
    await mkdir(dir);
    const target = await victim(dir);
    await symlink(target, join(dir, `lock.${process.pid}`));
    const spool = await openSpool({ dir });
    expect(await readFile(target, 'utf8')).toBe('precious\n');
    expect(await readFile(join(dir, 'lock'), 'utf8')).toBe(`${process.pid}\n`);
    await spool.close();
    await expect(lstat(join(dir, `lock.${process.pid}`))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('a lock linked to a victim: refused, not read or removed through', async () => {
    const dir = await spoolDir();
    await mkdir(dir);
    const target = await victim(dir);
    await symlink(target, join(dir, 'lock'));
    const error = await unsafeError({ dir });
    expect(error.path).toBe(join(dir, 'lock'));
    expect(await readFile(target, 'utf8')).toBe('precious\n');
  });

  test('a segment linked to a victim: refused at open, naming it', async () => {
    const dir = await spoolDir();
    await (await Spool.open({ dir })).close();
    const target = await victim(dir);
    await symlink(target, join(dir, segmentName(0)));
    const error = await unsafeError({ dir });
    expect(error.path).toBe(join(dir, segmentName(0)));
    expect(await readFile(target, 'utf8')).toBe('precious\n');
  });

  test('journal.next linked to a victim when the journal is compacted: the link is replaced, the victim untouched', async () => {
    const dir = await spoolDir();
    await (await Spool.open({ dir })).close();
    // A journal past 1 MiB (acknowledgements of batches long gone are valid entries): the next batch compacts it.
    const ack = encodeFrame(Buffer.from('{"t":"ack","sequence":999999}'));
    await appendFile(join(dir, 'journal'), Buffer.concat(Array.from({ length: Math.ceil((1 << 20) / ack.length) }, () => ack)));
    const spool = await openSpool({ dir });
    const target = await victim(dir);
    await symlink(target, join(dir, 'journal.next'));
    await spool.append([record('a', 10)]);
    expect((await take(spool, 100, true))!.bytes.toString()).toBe('a'.repeat(10));
    expect(await readFile(target, 'utf8')).toBe('precious\n');
    expect((await lstat(join(dir, 'journal'))).isFile()).toBe(true);
    expect((await stat(join(dir, 'journal'))).size).toBeLessThan(1000);
    expect(await modeOf(join(dir, 'journal'))).toBe(0o600);
  });

  test('rejected/ linked to a victim directory: refused, nothing written there', async () => {
    const dir = await spoolDir();
    const spool = await openSpool({ dir });
    const elsewhere = join(dir, '..', 'elsewhere');
    await mkdir(elsewhere);
    await symlink(elsewhere, join(dir, 'rejected'));
    await spool.append([record('a', 10)]);
    const refused = (await take(spool, 100, true))!;
    const error = await spool.setAside(refused.sequence, { statusCode: 400, body: 'no' }).catch((error: unknown) => error);
    expect(error).toBeInstanceOf(SpoolUnsafeError);
    expect((error as SpoolUnsafeError).path).toBe(join(dir, 'rejected'));
    expect(await readdir(elsewhere)).toEqual([]);
  });

  test('rejected/<key>.bin and .json linked to victims: replaced by files of their own, the victims untouched', async () => {
    const dir = await spoolDir();
    const spool = await openSpool({ dir });
    await spool.append([record('a', 10)]);
    const refused = (await take(spool, 100, true))!;
    await mkdir(join(dir, 'rejected'));
    const targets = [await victim(dir, 'victim-bin'), await victim(dir, 'victim-json')];
    await symlink(targets[0]!, join(dir, 'rejected', `${refused.key}.bin`));
    await symlink(targets[1]!, join(dir, 'rejected', `${refused.key}.json`));
    const path = await spool.setAside(refused.sequence, { statusCode: 400, body: 'no' });
    for (const target of targets) expect(await readFile(target, 'utf8')).toBe('precious\n');
    expect((await lstat(path)).isFile()).toBe(true);
    expect(await readFile(path)).toEqual(refused.bytes);
  });
});

describe('a file planted under the name of the next segment', () => {
  test('a regular file: the append fails with ERR_BHW_SPOOL_UNSAFE naming it, not a raw EEXIST', async () => {
    const dir = await spoolDir();
    const spool = await openSpool({ dir, segmentBytes: 10 });
    await spool.append([record('a', 10)]);
    const planted = join(dir, segmentName(30));
    await writeFile(planted, 'planted');
    const error = await spool.append([record('b', 10)]).catch((error: unknown) => error);
    expect(error).toBeInstanceOf(SpoolUnsafeError);
    expect(error).toMatchObject({ code: ErrorCodes.SPOOL_UNSAFE, path: planted });
    expect(await readFile(planted, 'utf8')).toBe('planted');
  });

  test('a dangling link: refused, its target not created', async () => {
    const dir = await spoolDir();
    const spool = await openSpool({ dir, segmentBytes: 10 });
    await spool.append([record('a', 10)]);
    const target = join(dir, '..', 'created-by-the-spool');
    await symlink(target, join(dir, segmentName(30)));
    await expect(spool.append([record('b', 10)])).rejects.toMatchObject({ code: ErrorCodes.SPOOL_UNSAFE, path: join(dir, segmentName(30)) });
    await expect(lstat(target)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('a directory that is not this user alone is refused', () => {
  asRoot('owned by nobody and holding a journal link to a root-owned 0600 file: refused, naming owner and mode; the file untouched', async () => {
    const dir = await spoolDir();
    await mkdir(dir, { mode: 0o755 });
    const target = await victim(dir);
    await symlink(target, join(dir, 'journal'));
    await chown(dir, NOBODY, NOBODY);
    const error = await unsafeError({ dir });
    expect(error).toMatchObject({ path: dir, uid: NOBODY, mode: 0o755 });
    expect(error.message).toContain(`owner uid ${NOBODY}, mode 0755`);
    expect(error.message).toContain('allowUnsafeDirectory');
    expect(await readFile(target, 'utf8')).toBe('precious\n');
  });

  asRoot('owned by nobody, with allowUnsafeDirectory: used as it is', async () => {
    const dir = await spoolDir();
    await mkdir(dir, { mode: 0o755 });
    await chown(dir, NOBODY, NOBODY);
    const spool = await openSpool({ dir, allowUnsafeDirectory: true });
    await spool.append([record('a', 10)]);
    expect((await stat(dir)).uid).toBe(NOBODY);
  });

  test('writable by group or others: refused', async () => {
    const dir = await spoolDir();
    await mkdir(dir);
    await chmod(dir, 0o777);
    const error = await unsafeError({ dir });
    expect(error).toMatchObject({ path: dir, mode: 0o777 });
    expect(error.message).toContain('writable by group or others');
  });

  asRoot('through the writable: the stream errors with ERR_BHW_SPOOL_UNSAFE; spool.allowUnsafeDirectory lets it through', async () => {
    server = await startBatchServer();
    const dir = await spoolDir();
    await mkdir(dir);
    await chown(dir, NOBODY, NOBODY);
    const refused = new BufferedHttpWritable(server.url, { mode: 'batch', spool: { dir } });
    const [error] = (await once(refused, 'error')) as [SpoolUnsafeError];
    expect(error).toMatchObject({ code: ErrorCodes.SPOOL_UNSAFE, path: dir, uid: NOBODY });

    const allowed = new BufferedHttpWritable(server.url, { mode: 'batch', spool: { dir, allowUnsafeDirectory: true } });
    allowed.end('{"a":1}\n');
    await once(allowed, 'finish');
    expect(server.assembled().toString()).toBe('{"a":1}\n');
  });

  test('spool.allowUnsafeDirectory must be a boolean', () => {
    expect(() => new BufferedHttpWritable('http://127.0.0.1:9/', { mode: 'batch', spool: { dir: '/tmp/x', allowUnsafeDirectory: 'yes' as never } })).toThrow(
      /spool.allowUnsafeDirectory/,
    );
  });
});
