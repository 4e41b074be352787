/**
 * The examples' check of their input file, before anything is sent: a missing
 * or unreadable file is a mistake in the command line, said in one line with
 * exit code 2 (as `bhw` does), not an error from deep inside the upload.
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';

const REASONS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  ENOTDIR: 'a part of the path is not a directory',
};

/** Returns the file's size, or ends the process with `<program>: cannot read <path>: <reason>`. */
export async function checkInputFile(program: string, path: string): Promise<number> {
  let reason: string;
  try {
    await access(path, constants.R_OK);
    const stats = await stat(path);
    if (stats.isFile()) return stats.size;
    reason = 'not a regular file';
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    reason = REASONS[code ?? ''] ?? message;
  }
  console.error(`${program}: cannot read ${path}: ${reason}`);
  process.exit(2);
}
