import { constants, writeSync, type Stats } from 'node:fs';
import { chmod, lstat, mkdir, open, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isBufferedHttpWritableError } from '../../../errors.js';
import { SpoolIoError, SpoolUnsafeError } from '../../../spool-errors.js';

/**
 * How the spool touches the file system, in one place: its directory is
 * the owner's alone (0700, owned by this user, writable by nobody else), its
 * files are 0600 whatever the umask, no open follows a symbolic link
 * (O_NOFOLLOW), a new file is always a new file (O_EXCL), and every failure
 * is a SpoolIoError naming the path and the system code.
 */

const PRIVATE_DIRECTORY = 0o700;
const PRIVATE_FILE = 0o600;
/** Not defined on Windows, which has no symlinks an open could follow this way. */
const NO_FOLLOW = constants.O_NOFOLLOW ?? 0;

/** A system error from an operation on `path` as a SpoolIoError; library errors and others pass through unchanged. */
export function spoolIoError(error: unknown, path: string): unknown {
  if (isBufferedHttpWritableError(error)) return error;
  const { code, syscall, message } = (error ?? {}) as NodeJS.ErrnoException;
  if (typeof code !== 'string' || !code.startsWith('E')) return error;
  const where = (error as NodeJS.ErrnoException).path ?? path;
  return new SpoolIoError(where, code, syscall, message.replace(/^E[A-Z]+: /, ''), undefined, { cause: error });
}

/** Runs `operation` on `path`; a system error becomes a SpoolIoError naming it. */
export async function onPath<T>(path: string, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw spoolIoError(error, path);
  }
}

/**
 * The spool's directory, created 0700 when missing. An existing one must be
 * a directory owned by this process's user and writable by nobody else
 * (else SpoolUnsafeError, unless `allowUnsafe`); its permissions are then
 * narrowed to 0700. The path up to it is the caller's: it may be a symlink.
 */
export async function ensureSpoolDirectory(dir: string, allowUnsafe: boolean): Promise<void> {
  if (await makeDirectory(dir)) return;
  const stats = await onPath(dir, () => stat(dir));
  if (!stats.isDirectory()) throw new SpoolIoError(dir, 'ENOTDIR', 'stat', 'not a directory');
  if (allowUnsafe) return;
  refuseForeign(dir, stats);
  if ((stats.mode & 0o077) !== 0) await onPath(dir, () => chmod(dir, PRIVATE_DIRECTORY));
}

/** A directory inside the spool (`rejected/`): created 0700, or an existing real directory (not a symlink) of this user. */
export async function ensureInnerDirectory(path: string): Promise<void> {
  if (await makeDirectory(path)) return;
  const stats = await onPath(path, () => lstat(path));
  if (stats.isSymbolicLink()) throw new SpoolUnsafeError(path, 'is a symbolic link', stats);
  if (!stats.isDirectory()) throw new SpoolIoError(path, 'ENOTDIR', 'lstat', 'not a directory');
  refuseForeign(path, stats);
}

/** Opens an existing spool file (read-write unless `readOnly`), never through a symlink, and only a regular file. */
export async function openExisting(path: string, readOnly = false): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(path, (readOnly ? constants.O_RDONLY : constants.O_RDWR) | NO_FOLLOW);
  } catch (error) {
    throw await refusal(error, path);
  }
  const stats = await onPath(path, () => handle.stat()).catch(async (error: unknown) => {
    await handle.close();
    throw error;
  });
  if (!stats.isFile()) {
    await handle.close();
    throw new SpoolUnsafeError(path, 'is not a regular file', stats);
  }
  return handle;
}

/** Creates a new spool file, 0600 whatever the umask; refuses anything already at `path` (a symlink included). */
export async function createExclusive(path: string): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | NO_FOLLOW, PRIVATE_FILE);
  } catch (error) {
    throw await refusal(error, path);
  }
  // The umask may have taken bits off the mode open() was given.
  await onPath(path, () => handle.chmod(PRIVATE_FILE)).catch(async (error: unknown) => {
    await handle.close();
    throw error;
  });
  return handle;
}

/** Writes `bytes` as a new file at `path`, replacing a file an earlier, interrupted run left there (the name, never a link's target). */
export async function replaceFile(path: string, bytes: Buffer, fsync: boolean): Promise<void> {
  await removeIfPresent(path);
  const handle = await createExclusive(path);
  try {
    await writeFully(handle, path, [bytes], 0);
    if (fsync) await onPath(path, () => handle.datasync());
  } finally {
    await handle.close();
  }
}

/** Removes the name `path` (a symlink itself, never its target); absent is fine. */
export async function removeIfPresent(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw spoolIoError(error, path);
  }
}

/**
 * Writes `buffers` at `position`, going on after a short write: the write
 * that cannot go on fails with the system's reason (ENOSPC on a full disk).
 */
export async function writeFully(handle: FileHandle, path: string, buffers: Buffer[], position: number): Promise<void> {
  let pending = buffers;
  for (;;) {
    const { bytesWritten } = await onPath(path, () => handle.writev(pending, position));
    position += bytesWritten;
    pending = after(pending, bytesWritten);
    if (pending.length === 0) return;
    if (bytesWritten === 0) throw new SpoolIoError(path, 'EIO', 'write', 'the write made no progress');
  }
}

/** `writeFully` for one small buffer, synchronously (the journal's entries). */
export function writeFullySync(fd: number, path: string, buffer: Buffer, position: number): void {
  for (let done = 0; done < buffer.length;) {
    let bytesWritten: number;
    try {
      bytesWritten = writeSync(fd, buffer, done, buffer.length - done, position + done);
    } catch (error) {
      throw spoolIoError(error, path);
    }
    if (bytesWritten === 0) throw new SpoolIoError(path, 'EIO', 'write', 'the write made no progress');
    done += bytesWritten;
  }
}

/** What is left of `buffers` after its first `count` bytes. */
function after(buffers: Buffer[], count: number): Buffer[] {
  let index = 0;
  while (index < buffers.length && count >= buffers[index]!.length) count -= buffers[index++]!.length;
  if (index === buffers.length) return [];
  return [buffers[index]!.subarray(count), ...buffers.slice(index + 1)];
}

/**
 * mkdir 0700 (0700 whatever the umask); true when this call created it.
 * Missing parents are made as `mkdir -p` does, but one level at a time:
 * Node's own recursive mkdir never returns where a parent exists and the
 * child still cannot be made (`/proc/spool` loops forever on ENOENT).
 */
async function makeDirectory(path: string): Promise<boolean> {
  try {
    await mkdir(path, PRIVATE_DIRECTORY);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    const parent = dirname(path);
    if (code !== 'ENOENT' || parent === path) throw spoolIoError(error, path);
    await makeParent(parent);
    try {
      await mkdir(path, PRIVATE_DIRECTORY);
    } catch (again) {
      if ((again as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw spoolIoError(again, path);
    }
  }
  await onPath(path, () => chmod(path, PRIVATE_DIRECTORY));
  return true;
}

/** A parent of the spool directory: made with the usual mode when missing, like `mkdir -p`. */
async function makeParent(path: string): Promise<void> {
  try {
    await mkdir(path);
    return;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return;
    const parent = dirname(path);
    if (code !== 'ENOENT' || parent === path) throw spoolIoError(error, path);
  }
  await makeParent(dirname(path));
  try {
    await mkdir(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw spoolIoError(error, path);
  }
}

/** Refuses a directory another user owns or that group or others may write into. */
function refuseForeign(path: string, stats: Stats): void {
  const uid = process.geteuid?.();
  if (uid !== undefined && stats.uid !== uid) {
    throw new SpoolUnsafeError(path, `owned by another user than this process's (uid ${uid}); set spool.allowUnsafeDirectory to use it anyway`, stats);
  }
  if ((stats.mode & 0o022) !== 0) {
    throw new SpoolUnsafeError(path, 'writable by group or others; set spool.allowUnsafeDirectory to use it anyway', stats);
  }
}

/** Why an open failed: a symlink or a file in the way is SpoolUnsafeError, anything else SpoolIoError. */
async function refusal(error: unknown, path: string): Promise<unknown> {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ELOOP' || code === 'EEXIST') {
    const found = await lstat(path).catch(() => undefined);
    if (found?.isSymbolicLink() || code === 'ELOOP') return new SpoolUnsafeError(path, 'is a symbolic link: the spool never opens a file through one', found);
    if (found)
      return new SpoolUnsafeError(path, 'already exists, though the spool was about to create it: something else writes in the spool directory', found);
  }
  return spoolIoError(error, path);
}
