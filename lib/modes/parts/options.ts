import type { AnyModeOptions } from '../../types.js';
import type { RetrySettings } from '../../http/retry.js';
import type { CommonOptions } from '../../options/common.js';
import { resolveConcurrency } from '../../options/concurrency.js';
import { resolveRetry } from '../../options/retry.js';
import { booleanOption, positiveInteger } from '../../options/validators.js';

/** What the parts transport needs of a multipart mode's options (s3, azure-blob), after defaults and validation. */
export interface PartsOptions extends CommonOptions {
  concurrency: number | 'auto';
  maxConcurrency: number;
  retry: RetrySettings;
  stateFile?: string;
  leavePartsOnError: boolean;
}

/** The rows every multipart mode adds to the mode table. */
export const PARTS_OPTIONS: ReadonlyArray<keyof AnyModeOptions> = ['concurrency', 'maxConcurrency', 'retry', 'stateFile', 'leavePartsOnError'];

/** Parts in flight unless asked: lib-storage's and the Azure SDK's default queue is 4–5; each holds a part in memory. */
export const DEFAULT_PARTS_CONCURRENCY = 4;

/** A part is a buffer: 8 MiB by default in the multipart modes, as the AWS and Azure SDKs' uploaders. */
export const DEFAULT_PART_SIZE = 8 * 1024 * 1024;

/** The multipart options on top of the common ones: a mode's resolver spreads these into its own. */
export function resolvePartsOptions(options: AnyModeOptions, common: CommonOptions): PartsOptions {
  const parts: PartsOptions = {
    ...common,
    highWaterMark: options.highWaterMark === undefined ? DEFAULT_PART_SIZE : positiveInteger('highWaterMark', options.highWaterMark),
    ...resolveConcurrency(options.concurrency, options.maxConcurrency, DEFAULT_PARTS_CONCURRENCY),
    retry: resolveRetry(options.retry, common.got, 'PUT'),
    // A state file is there to resume: its parts stay unless the caller says otherwise.
    leavePartsOnError: booleanOption('leavePartsOnError', options.leavePartsOnError ?? options.stateFile !== undefined),
  };
  if (options.stateFile !== undefined) {
    if (typeof options.stateFile !== 'string' || options.stateFile === '') {
      throw new TypeError(`stateFile must be a file path, received ${JSON.stringify(options.stateFile)}`);
    }
    parts.stateFile = options.stateFile;
  }
  return parts;
}
