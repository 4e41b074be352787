import type { ProgressSnapshot } from '../../../types.js';
import { SpoolRecordTooLargeError } from '../../../spool-errors.js';
import { ENTRY_BYTES, MAX_LENGTH } from './frame.js';

/**
 * The error for a record the spool can never hold (larger than `maxBytes`, or
 * than one frame), or undefined when it may fit once there is room.
 */
export function refuseRecord(
  record: Uint8Array | string,
  encoding: BufferEncoding,
  maxBytes: number,
  progress?: ProgressSnapshot,
): SpoolRecordTooLargeError | undefined {
  const largest = Math.min(maxBytes, MAX_LENGTH - 2 * ENTRY_BYTES);
  // No encoding takes more than 3 bytes per UTF-16 code unit: most strings need no measuring.
  const bound = typeof record === 'string' ? record.length * 3 : record.length;
  if (bound <= largest) return undefined;
  const length = typeof record === 'string' ? Buffer.byteLength(record, encoding) : bound;
  return length > largest ? new SpoolRecordTooLargeError(length, maxBytes, largest, progress) : undefined;
}
