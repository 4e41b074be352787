import { fstat, type BigIntStats } from 'node:fs';
import type { FileChangeField } from './types.js';

/**
 * What tells one version of a regular file from another without reading it
 * again: its size, its timestamps (every write moves mtime and ctime, and
 * ctime cannot be set back by its owner as mtime can), and which file it is.
 */
const COMPARED: ReadonlyArray<[FileChangeField, 'size' | 'mtimeNs' | 'ctimeNs' | 'ino' | 'dev']> = [
  ['size', 'size'],
  ['mtime', 'mtimeNs'],
  ['ctime', 'ctimeNs'],
  ['ino', 'ino'],
  ['dev', 'dev'],
];

/** `fstat` in bigint: nanosecond timestamps, which a number cannot hold exactly. */
export function fileStats(fd: number): Promise<BigIntStats> {
  return new Promise((resolve, reject) => fstat(fd, { bigint: true }, (error, stats) => (error ? reject(error) : resolve(stats))));
}

/** The fields in which `after` differs from `before`; empty when the file looks untouched. */
export function changedFields(before: BigIntStats, after: BigIntStats): FileChangeField[] {
  return COMPARED.filter(([, key]) => before[key] !== after[key]).map(([field]) => field);
}
