import type { AnyModeOptions } from '../types.js';
import { resolveCommon } from './common.js';
import { checkKeys, MODE_RULES, MODES, type ResolvedOptions } from './table.js';
import { describe, oneOf } from './validators.js';

/**
 * Applies defaults and checks every option; throws `TypeError`/`RangeError`
 * naming the option and the value. The result is plain settings: what the
 * upload learns while it runs lives in its context (lib/upload-context.ts).
 */
export function resolveOptions(url: string | URL, options: AnyModeOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`options must be an object, received ${describe(options)}`);
  }
  if ((options as { objectMode?: unknown }).objectMode) {
    throw new TypeError('objectMode is not supported: BufferedHttpWritable takes bytes (Buffer, Uint8Array or string)');
  }
  const mode = options.mode ?? 'stream';
  oneOf('mode', mode, MODES);
  checkKeys(options, mode);
  return MODE_RULES[mode].resolve(options, resolveCommon(url, options));
}
