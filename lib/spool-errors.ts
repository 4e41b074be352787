/**
 * The spool's errors: damage, a lock held elsewhere, a failed file system
 * operation, a directory or file someone else could read or redirect, a
 * record that can never fit, another input's records. Each names the path
 * and the facts; none carries progress figures of its own (the spool has
 * none), so they report zeros unless the Writable adds its own.
 */
import { BufferedHttpWritableError, ErrorCodes, NO_PROGRESS } from './errors.js';
import type { ProgressSnapshot } from './types.js';

/** A spool file is damaged outside its torn tail: opening fails so nothing damaged is sent. */
export class SpoolCorruptError extends BufferedHttpWritableError {
  /** The damaged file. */
  readonly file: string;
  /** Byte offset in `file` of the first unit that does not check out. */
  readonly position: number;

  constructor(file: string, position: number, reason: string, progress: ProgressSnapshot = NO_PROGRESS) {
    super(ErrorCodes.SPOOL_CORRUPT, `Spool file ${file} is damaged at byte ${position}: ${reason}`, progress);
    this.file = file;
    this.position = position;
  }
}

/** The spool directory is held by another writer: one writer per spool. */
export class SpoolLockedError extends BufferedHttpWritableError {
  /** The pid written in the lock file (this process's own pid when another spool here holds it). */
  readonly pid: number;
  readonly lockFile: string;

  constructor(lockFile: string, pid: number, progress: ProgressSnapshot = NO_PROGRESS) {
    const holder = pid === process.pid ? 'another spool in this process' : `process ${pid}`;
    super(ErrorCodes.SPOOL_LOCKED, `Spool ${lockFile} is held by ${holder}`, progress);
    this.pid = pid;
    this.lockFile = lockFile;
  }
}

/**
 * A file system operation of the spool failed. Writes whose callback had
 * fired are in the spool (the next start sends them); the others are not.
 */
export class SpoolIoError extends BufferedHttpWritableError {
  /** The file or directory the operation was on. */
  readonly path: string;
  /** The system error code: `ENOSPC`, `EROFS`, `ENOTDIR`, `EACCES`, `EIO`, … */
  readonly systemCode: string;
  /** The failed system call (`write`, `open`, `mkdir`, …), when known. */
  readonly syscall?: string;

  constructor(path: string, systemCode: string, syscall: string | undefined, detail: string, progress: ProgressSnapshot = NO_PROGRESS, options?: ErrorOptions) {
    super(
      ErrorCodes.SPOOL_IO,
      `Spool ${syscall ?? 'I/O'} failed on ${path} (${systemCode}: ${detail}); writes not yet confirmed by their callback are not in the spool`,
      progress,
      {},
      options,
    );
    this.path = path;
    this.systemCode = systemCode;
    if (syscall !== undefined) this.syscall = syscall;
  }
}

/**
 * The spool's directory, or an entry in it, is not the spool's alone: a
 * directory owned by another user or writable by group or others, a
 * symbolic link, or a file the spool did not create where it is about to
 * create one. Nothing was read or written through it.
 */
export class SpoolUnsafeError extends BufferedHttpWritableError {
  readonly path: string;
  /** Owner uid of `path`, when it exists. */
  readonly uid?: number;
  /** Permission bits of `path` (`mode & 0o7777`), when it exists. */
  readonly mode?: number;

  constructor(path: string, problem: string, found?: { uid: number; mode: number }, progress: ProgressSnapshot = NO_PROGRESS) {
    const owner = found ? ` (owner uid ${found.uid}, mode ${(found.mode & 0o7777).toString(8).padStart(4, '0')})` : '';
    super(ErrorCodes.SPOOL_UNSAFE, `Refusing spool path ${path}${owner}: ${problem}`, progress);
    this.path = path;
    if (found) {
      this.uid = found.uid;
      this.mode = found.mode & 0o7777;
    }
  }
}

/** A record that can never fit in the spool: refused at its own write; the records before it are kept. */
export class SpoolRecordTooLargeError extends BufferedHttpWritableError {
  /** The record's size in bytes. */
  readonly recordBytes: number;
  /** The spool's `maxBytes`. */
  readonly maxBytes: number;
  /** The largest record the spool takes: `maxBytes`, or less when a record frame's limit (just under 1 GiB) is smaller. */
  readonly largestRecord: number;

  constructor(recordBytes: number, maxBytes: number, largestRecord: number, progress: ProgressSnapshot = NO_PROGRESS) {
    super(
      ErrorCodes.SPOOL_RECORD_TOO_LARGE,
      `A record of ${recordBytes} bytes can never fit in the spool: its largest record is ${largestRecord} bytes (maxBytes ${maxBytes})`,
      progress,
    );
    this.recordBytes = recordBytes;
    this.maxBytes = maxBytes;
    this.largestRecord = largestRecord;
  }
}

/**
 * The spool still holds records of another input than the one given
 * (`spool.input`): sending the new one after them would mix the two, and
 * continuing it from the spool's position would skip or repeat records.
 * Nothing was sent; the spool is as it was.
 */
export class SpoolInputError extends BufferedHttpWritableError {
  readonly dir: string;
  /** The input the spool's records came from; undefined when no input was named for them. */
  readonly spooledInput: string | undefined;
  /** The input given now. */
  readonly input: string;
  /** Bytes of records the spool holds, not yet acknowledged. */
  readonly bytesStored: number;

  constructor(dir: string, spooledInput: string | undefined, input: string, bytesStored: number, progress: ProgressSnapshot = NO_PROGRESS) {
    const from = spooledInput === undefined ? 'an input not named' : spooledInput;
    super(ErrorCodes.SPOOL_INPUT, `Spool ${dir} holds ${bytesStored} bytes of records from ${from}, not from ${input}: send them first`, progress);
    this.dir = dir;
    this.spooledInput = spooledInput;
    this.input = input;
    this.bytesStored = bytesStored;
  }
}
