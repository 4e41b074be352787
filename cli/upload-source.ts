import { fstat as fstatCallback } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
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
 * A pipe on stdin is non-blocking once got is imported: `uploadFile` knows
 * how to read it (it reopens an anonymous pipe, and waits out EAGAIN).
 */
export async function directSource(args: UploadArgs, io: CliIo, file: { handle: FileHandle; size?: number } | undefined): Promise<DirectSource | undefined> {
  if (args.mode === 'batch') return undefined;
  if (file) return file.size === undefined ? undefined : { fd: file.handle.fd, fileSize: file.size };
  if (io.stdinFd === undefined || args.resume) return undefined;
  const stats = await fstat(io.stdinFd);
  if (stats.isFile()) return { fd: io.stdinFd, fileSize: stats.size };
  return stats.isFIFO() ? { fd: io.stdinFd } : undefined;
}
