/**
 * Where a batch the server refused for good is kept: `<dir>/rejected/<key>.bin`
 * holds its bytes as they were sent, `<key>.json` what the server said and
 * which batch it was, so someone can look at it (and send it again by hand)
 * after the spool has moved on. Written through files.ts: 0700 directory,
 * 0600 files, no symlink followed.
 */
import { join } from 'node:path';
import type { SetAsideReason } from '../../../types.js';
import { BODY_SNIPPET_LIMIT, capBody } from '../../../http/body-cap.js';
import { ensureInnerDirectory, onPath, replaceFile } from './files.js';
import type { FixedBatch } from './journal.js';
import { syncDirectory } from './segments.js';

const REJECTED_DIR = 'rejected';

/** A batch whose refusal ended this many runs is set aside by the last: one bad record must not hold back every later one forever. */
export const SET_ASIDE_AFTER_FAILED_RUNS = 3;

/** The server's refusal: its status and body (only its start is kept, redacted, as in errors), and why the batch goes aside. */
export interface Refusal {
  statusCode: number;
  body: string;
  reason: SetAsideReason;
  /** Runs a refusal of it ended, as counted in the journal (only refusals that may be the batch's fault count). */
  failedRuns: number;
}

/** Writes the batch's bytes and its description under `<dir>/rejected/`; returns the path of the `.bin`. */
export async function writeRejected(dir: string, key: string, batch: FixedBatch, bytes: Buffer, refusal: Refusal, fsync: boolean): Promise<string> {
  const rejected = join(dir, REJECTED_DIR);
  await ensureInnerDirectory(rejected);
  const path = join(rejected, `${key}.bin`);
  const body = capBody(refusal.body, BODY_SNIPPET_LIMIT);
  const about = {
    reason: refusal.reason,
    failedRuns: refusal.failedRuns,
    statusCode: refusal.statusCode,
    body,
    sequence: batch.sequence,
    offset: batch.offset,
    key,
    bytes: batch.bytes,
    records: batch.records,
    time: new Date().toISOString(),
  };
  await replaceFile(path, bytes, fsync);
  await replaceFile(join(rejected, `${key}.json`), Buffer.from(`${JSON.stringify(about, null, 2)}\n`), fsync);
  // The new names must survive a power loss too, not only the bytes in them.
  if (fsync) await onPath(rejected, () => syncDirectory(rejected));
  return path;
}
