import type { ResponseSummary, SpoolSettings } from '../../../types.js';
import { booleanOption, describe, plainObject, positiveInteger, refuseUnknownFields } from '../../../options/validators.js';
import { refusedBatchStatuses, saysDigestMismatch } from '../../../http/status.js';

/** Disk a spool may hold before writes push back. */
export const DEFAULT_SPOOL_MAX_BYTES = 1024 * 1024 * 1024;

/** Whether an answer sets its batch aside at once (`spool.setAsideOn`, as a test). */
export type SetAsideTest = (response: ResponseSummary) => boolean;

/** The spool's settings after defaults and validation. */
export interface ResolvedSpoolSettings {
  dir: string;
  maxBytes: number;
  fsync: boolean;
  allowUnsafeDirectory: boolean;
  input?: string;
  setAsideOn: SetAsideTest;
}

const SPOOL_FIELDS = ['dir', 'maxBytes', 'fsync', 'allowUnsafeDirectory', 'input', 'setAsideOn'];

/**
 * The one home of the spool's defaults and checks: the `spool` option of
 * batch mode, and `Spool.open()` for what it is given.
 */
export function resolveSpoolSettings(value: SpoolSettings): ResolvedSpoolSettings {
  const spool = plainObject('spool', value)!;
  refuseUnknownFields('spool', spool, SPOOL_FIELDS);
  if (typeof spool.dir !== 'string' || spool.dir === '') throw new TypeError(`spool.dir must be a directory path, received ${describe(spool.dir)}`);
  if (spool.input !== undefined && (typeof spool.input !== 'string' || spool.input === '')) {
    throw new TypeError(`spool.input must be a non-empty string naming the input, received ${describe(spool.input)}`);
  }
  const resolved: ResolvedSpoolSettings = {
    dir: spool.dir,
    maxBytes: positiveInteger('spool.maxBytes', spool.maxBytes ?? DEFAULT_SPOOL_MAX_BYTES),
    fsync: booleanOption('spool.fsync', spool.fsync ?? false),
    allowUnsafeDirectory: booleanOption('spool.allowUnsafeDirectory', spool.allowUnsafeDirectory ?? false),
    setAsideOn: setAsideTest(spool.setAsideOn),
  };
  if (spool.input !== undefined) resolved.input = spool.input;
  return resolved;
}

/**
 * `spool.setAsideOn` as a test: a function as it is, a list of statuses
 * (default: the status table's refusals of a batch) as membership. A digest
 * mismatch (a 400 naming the digest) never sets a batch aside: the bytes on
 * disk are good, only those on the wire were corrupted, so they are resent.
 */
function setAsideTest(value: SpoolSettings['setAsideOn']): SetAsideTest {
  const test = userOrStatusTest(value);
  return (response) => !saysDigestMismatch(response.statusCode, response.body) && test(response);
}

function userOrStatusTest(value: SpoolSettings['setAsideOn']): SetAsideTest {
  if (typeof value === 'function') return value;
  const statuses = value ?? refusedBatchStatuses();
  if (!Array.isArray(statuses) || !statuses.every((status) => Number.isInteger(status) && status >= 100 && status <= 599)) {
    throw new TypeError(`spool.setAsideOn must be a list of HTTP statuses or a function of the response, received ${describe(value)}`);
  }
  const set = new Set(statuses);
  return (response) => set.has(response.statusCode);
}
