import { once } from 'node:events';
import type { FileHandle } from 'node:fs/promises';
import { SpoolInputError, type BufferedHttpWritable, type SpoolOpened } from '../lib/index.js';
import { REDACTED } from '../lib/redact.js';
import { UsageError, type UploadArgs } from './args.js';
import { drainCommand } from './report.js';

/*
 * `--spool` with a file: the spool records which file its records come from
 * and how far into it they reach, so running the same command again sends
 * the spool, then continues the file after the last byte the spool took,
 * and no record goes out twice under two keys.
 */

/** What stdin (or a pipe, a FIFO) is called in a spool: it has no identity, so the spool's records are sent first, then what it brings now. */
export const STREAM_INPUT = 'stdin';

/**
 * The input as the spool records it: a regular file by device, inode, size
 * and mtime (a file changed since is another input); stdin or a pipe by
 * `STREAM_INPUT`; `--drain` by none (no input, any spool).
 */
export async function spoolInputOf(args: UploadArgs, file: { handle: FileHandle; size?: number } | undefined): Promise<string | undefined> {
  if (args.drain) return undefined;
  if (file?.size === undefined) return STREAM_INPUT;
  const stats = await file.handle.stat({ bigint: true });
  return `file dev ${stats.dev} inode ${stats.ino} size ${stats.size} mtime ${stats.mtimeNs}ns`;
}

/**
 * Resolves once the upload's spool is open, with how much of the input it
 * already took; a spool holding another input's records becomes a usage
 * error naming the command that sends them. Other failures to open resolve
 * with the error: the upload ends with it as before.
 */
export async function spoolOpened(upload: BufferedHttpWritable, args: UploadArgs): Promise<SpoolOpened | { error: Error }> {
  try {
    const [opened] = (await once(upload, 'spool')) as [SpoolOpened];
    return opened;
  } catch (error) {
    if (!(error instanceof SpoolInputError)) return { error: error as Error };
    const { command, redacted } = drainCommand(args.argv);
    const fill = redacted ? ` (fill in the values shown as ${REDACTED})` : '';
    const what = error.spooledInput === STREAM_INPUT ? 'stdin' : error.spooledInput === undefined ? 'an earlier input' : 'another file';
    throw new UsageError(
      `the spool ${error.dir} holds ${error.bytesStored} bytes of records from ${what}, not from ${args.source === '-' ? 'stdin' : args.source}; ` +
        `send them first with: ${command}${fill}`,
    );
  }
}
