import { link, readFile, realpath, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { SpoolIoError, SpoolLockedError } from '../../../spool-errors.js';
import { onPath, openExisting, removeIfPresent, replaceFile } from './files.js';

export const LOCK_FILE = 'lock';

/**
 * Directories held by spools of this process. Kept on globalThis under a
 * registered symbol so that two installed copies of the library agree.
 */
const held: Set<string> = ((globalThis as Record<symbol, unknown>)[Symbol.for('buffered-http-writable.spool.held')] ??= new Set<string>()) as Set<string>;

/** A held spool lock: `release()` removes the lock file (idempotent). */
export interface SpoolLock {
  readonly path: string;
  release(): Promise<void>;
}

/**
 * Takes `<dir>/lock` for this process: one writer per spool. The file is
 * created exclusively (link(), which fails on an existing file as `wx` does)
 * and holds the pid. A lock whose pid is not alive
 * (`process.kill(pid, 0)` fails with ESRCH, or the process is a zombie) is
 * taken over; so is one naming this very pid that no spool here holds (a
 * container restarted as pid 1).
 *
 * Taking over a dead lock unlinks it and creates it again with `wx`: of two
 * processes racing for the same stale lock, one gets EEXIST and then sees the
 * other's live pid.
 */
export async function acquireLock(dir: string): Promise<SpoolLock> {
  const key = await onPath(dir, () => realpath(dir));
  const path = join(dir, LOCK_FILE);
  if (held.has(key)) throw new SpoolLockedError(path, process.pid);
  // Claimed before the first await so a second open() in this process is refused at once.
  held.add(key);
  try {
    for (let attempt = 0; ; attempt++) {
      // Written aside, then linked into place: link() fails with EEXIST like `wx`,
      // and the lock never exists without its pid for a racing opener to misread.
      // A draft of this pid left by a process that died (a container's pid 1 again) is replaced.
      const draft = `${path}.${process.pid}`;
      await replaceFile(draft, Buffer.from(`${process.pid}\n`), false);
      try {
        await link(draft, path);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) throw error;
      } finally {
        await removeIfPresent(draft);
      }
      const pid = await readPid(path);
      if (pid !== undefined && pid !== process.pid && (await isAlive(pid))) throw new SpoolLockedError(path, pid);
      await removeIfPresent(path);
    }
  } catch (error) {
    held.delete(key);
    throw error;
  }
  let released = false;
  return {
    path,
    async release() {
      if (released) return;
      released = true;
      try {
        await onPath(path, () => unlink(path));
      } finally {
        held.delete(key);
      }
    },
  };
}

/** The pid in a lock file; undefined when it is missing or unreadable (a crash between create and write). */
async function readPid(path: string): Promise<number | undefined> {
  let text: string;
  try {
    const handle = await openExisting(path, true);
    try {
      text = await onPath(path, () => handle.readFile('utf8'));
    } finally {
      await handle.close();
    }
  } catch (error) {
    if (error instanceof SpoolIoError && error.systemCode === 'ENOENT') return undefined;
    throw error;
  }
  const pid = Number.parseInt(text, 10);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

async function isAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists, owned by another user.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return !(await isZombie(pid));
}

/**
 * A killed process stays a zombie until its parent reaps it, and in a
 * container without an init nobody may: it still answers `kill(pid, 0)` but
 * will never write again. Linux says so in `/proc/<pid>/stat` (state `Z`, or
 * `X` while it is being reaped); without /proc the process counts as alive.
 */
async function isZombie(pid: number): Promise<boolean> {
  let stat: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  // `pid (comm) state …`: comm may hold spaces and parentheses, so read after the last ')'.
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state === 'Z' || state === 'X';
}
