import { read as readCallback } from 'node:fs';
import { open, readlink, type FileHandle } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';

/*
 * Reading a descriptor someone else opened (stdin above all) that may be
 * non-blocking. got imports `node:process`, whose ESM facade reads
 * `process.stdin`: Node then sets O_NONBLOCK on descriptor 0, so a read of a
 * pipe or socket whose writer is slower than we are fails with EAGAIN.
 *
 * Two ways out, in order. An anonymous pipe is opened anew through
 * `/proc/self/fd/N` (Linux): a new open file description of the same pipe,
 * blocking, so each read waits in the thread pool for the writer at full pipe
 * speed. What cannot be reopened (a socket gives ENXIO, a named FIFO could
 * wait for a writer that is gone, no /proc on macOS) is read as it is, and an
 * EAGAIN waits a little and reads again: Node has no poll() on a bare
 * descriptor, and a short capped back-off costs nothing while data flows.
 */

const readAsync = promisify(readCallback);

/** First wait after an EAGAIN (ms), doubled up to the cap while the writer stays silent. */
const FIRST_WAIT_MS = 1;
const LONGEST_WAIT_MS = 50;

/**
 * A blocking descriptor of its own for the anonymous pipe on `fd`, or
 * undefined when `fd` is no anonymous pipe or cannot be reopened. An
 * anonymous pipe never waits for a writer when opened.
 */
export async function reopenPipe(fd: number): Promise<FileHandle | undefined> {
  const path = `/proc/self/fd/${fd}`;
  try {
    if (!/^pipe:\[\d+\]$/.test(await readlink(path))) return undefined;
    return await open(path, 'r');
  } catch {
    return undefined;
  }
}

/**
 * `read(2)` into `buffer`, waiting out EAGAIN on a non-blocking descriptor
 * until data or the end comes; `signal` stops the waiting (the upload ended).
 */
export async function readWhenReady(fd: number, buffer: Buffer, offset: number, length: number, position: number | null, signal: AbortSignal): Promise<number> {
  for (let wait = FIRST_WAIT_MS; ; wait = Math.min(wait * 2, LONGEST_WAIT_MS)) {
    try {
      return (await readAsync(fd, buffer, offset, length, position)).bytesRead;
    } catch (error) {
      const { code } = error as NodeJS.ErrnoException;
      if (code !== 'EAGAIN' && code !== 'EWOULDBLOCK') throw error;
    }
    await delay(wait, undefined, { signal });
  }
}
