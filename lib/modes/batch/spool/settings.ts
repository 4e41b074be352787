import type { SpoolSettings } from '../../../types.js';
import { booleanOption, describe, plainObject, positiveInteger, refuseUnknownFields } from '../../../options/validators.js';

/** Disk a spool may hold before writes push back. */
export const DEFAULT_SPOOL_MAX_BYTES = 1024 * 1024 * 1024;

/** The spool's settings after defaults and validation. */
export type ResolvedSpoolSettings = Required<SpoolSettings>;

const SPOOL_FIELDS = ['dir', 'maxBytes', 'fsync', 'allowUnsafeDirectory'];

/**
 * The one home of the spool's defaults and checks: the `spool` option of
 * batch mode, and `Spool.open()` for what it is given.
 */
export function resolveSpoolSettings(value: SpoolSettings): ResolvedSpoolSettings {
  const spool = plainObject('spool', value)!;
  refuseUnknownFields('spool', spool, SPOOL_FIELDS);
  if (typeof spool.dir !== 'string' || spool.dir === '') throw new TypeError(`spool.dir must be a directory path, received ${describe(spool.dir)}`);
  return {
    dir: spool.dir,
    maxBytes: positiveInteger('spool.maxBytes', spool.maxBytes ?? DEFAULT_SPOOL_MAX_BYTES),
    fsync: booleanOption('spool.fsync', spool.fsync ?? false),
    allowUnsafeDirectory: booleanOption('spool.allowUnsafeDirectory', spool.allowUnsafeDirectory ?? false),
  };
}
