import { fstat as fstatCallback, open as openCallback } from 'node:fs';
import { open, readlink, type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { UsageError, type UploadArgs } from './args.js';
import type { CliIo } from './io.js';

/*
 * Where the bytes of an upload come from: the file named on the command line
 * or stdin, and whether `uploadFile` can read its descriptor straight into the
 * pool's buffers or it goes through a pipeline.
 */

const fstat = promisify(fstatCallback);
const openFd = promisify(openCallback);

export interface Source {
  stream: Readable;
  /** Bytes to drop from the start of the stream. */
  skip: number;
  /** Bytes this run will send, when known. */
  size?: number;
}

/** A descriptor `uploadFile` reads straight into the pool's buffers: a regular file, or stdin (a pipe or a redirected file). */
export interface DirectSource {
  fd: number;
  /** A regular file's size (stdin redirected from a file has one too); undefined for a pipe. */
  fileSize?: number;
  /** stdin's pipe opened anew: closed once the upload succeeded. */
  reopened?: boolean;
}

/** Opens the file now, so a missing or unreadable one is a usage error (exit 2), not a failed upload. */
export async function openFile(path: string): Promise<{ handle: FileHandle; size?: number }> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    const { code } = error as NodeJS.ErrnoException;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    throw new UsageError(`cannot read ${path}: ${why}`);
  }
  const stats = await handle.stat();
  if (stats.isDirectory()) {
    await handle.close();
    throw new UsageError(`cannot read ${path}: it is a directory`);
  }
  // A FIFO or device has no size known in advance: it is read like stdin.
  return stats.isFile() ? { handle, size: stats.size } : { handle };
}

/**
 * Where `uploadFile` fits: stream and tus mode, from a regular file, or from
 * stdin when it is a regular file (`< file`) or a pipe (`cmd |`), unless
 * bytes must be skipped (`--resume` with stdin). Batch mode keeps the
 * pipeline: its records must stay whole, and `uploadFile` cuts batches at
 * `highWaterMark` bytes. So do a FIFO named on the command line (its handle
 * could not be closed while a read of it waits), a terminal and a socket.
 */
export async function directSource(args: UploadArgs, io: CliIo, file: { handle: FileHandle; size?: number } | undefined): Promise<DirectSource | undefined> {
  if (args.mode === 'batch') return undefined;
  if (file) return file.size === undefined ? undefined : { fd: file.handle.fd, fileSize: file.size };
  if (io.stdinFd === undefined || args.resume) return undefined;
  const stats = await fstat(io.stdinFd);
  if (stats.isFile()) return { fd: io.stdinFd, fileSize: stats.size };
  const fd = stats.isFIFO() ? await reopenPipe(io.stdinFd) : undefined;
  return fd === undefined ? undefined : { fd, reopened: true };
}

/**
 * A blocking descriptor of its own for the anonymous pipe on `fd`, or
 * undefined where there is none to be had (not Linux, a named FIFO).
 *
 * got imports `node:process`, whose ESM facade reads `process.stdin`: Node
 * then opens stdin as a socket and sets O_NONBLOCK on the pipe, so a read of
 * descriptor 0 fails with EAGAIN whenever the writer is slower than we are.
 * Opening `/proc/self/fd/0` gives a new open file description of the same
 * pipe, blocking. An anonymous pipe never waits for a writer when opened; a
 * named FIFO would wait if its writer has already gone, so it is piped.
 */
async function reopenPipe(fd: number): Promise<number | undefined> {
  const path = `/proc/self/fd/${fd}`;
  try {
    if (!/^pipe:\[\d+\]$/.test(await readlink(path))) return undefined;
    return await openFd(path, 'r');
  } catch {
    return undefined;
  }
}
