import type { AnyModeOptions, UploadMode } from '../types.js';
import { type BatchOptions, batchRules } from '../modes/batch/options.js';
import { type StreamOptions, streamRules } from '../modes/stream/options.js';
import { type TusOptions, tusRules } from '../modes/tus/options.js';
import { type S3Options, s3Rules } from '../modes/s3/options.js';
import { type AzureBlobOptions, azureBlobRules } from '../modes/azure-blob/options.js';
import { COMMON_OPTIONS, type ModeOptionRules } from './common.js';
import { nearest } from './validators.js';

/** The options after defaults and validation, typed per mode: a transport sees only its own fields. */
export type ResolvedOptions = StreamOptions | BatchOptions | TusOptions | S3Options | AzureBlobOptions;

/**
 * The mode table: each mode's rules (lib/modes/<mode>/options.ts), which
 * say which options it takes and how they are resolved. A new mode is one
 * line here (and its line in lib/modes/create.ts).
 */
export const MODE_RULES: { readonly [M in UploadMode]: ModeOptionRules<Extract<ResolvedOptions, { mode: M }>> } = {
  stream: streamRules,
  batch: batchRules,
  tus: tusRules,
  s3: s3Rules,
  'azure-blob': azureBlobRules,
};

export const MODES = Object.keys(MODE_RULES) as UploadMode[];

/** Which modes take the option `key`, in the table's order; undefined when no mode knows it. */
function modesTaking(key: string): UploadMode[] | undefined {
  if ((COMMON_OPTIONS as readonly string[]).includes(key)) return MODES;
  const modes = MODES.filter((mode) => (MODE_RULES[mode].options as readonly string[]).includes(key));
  return modes.length > 0 ? modes : undefined;
}

/** Every option some mode takes, common ones first. */
const KNOWN_OPTIONS = [...new Set<string>([...COMMON_OPTIONS, ...MODES.flatMap((mode) => MODE_RULES[mode].options)])];

/** Refuses a key no mode knows (with the nearest known name) and a key of another mode. Undefined values are ignored. */
export function checkKeys(options: AnyModeOptions, mode: UploadMode): void {
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    const modes = modesTaking(key);
    if (modes === undefined) {
      const near = nearest(key, KNOWN_OPTIONS);
      throw new TypeError(`Unknown option '${key}'${near ? ` (did you mean '${near}'?)` : ''}`);
    }
    if (!modes.includes(mode)) {
      throw new TypeError(`'${key}' does not apply to mode '${mode}' (it applies to ${modes.map((m) => `'${m}'`).join(', ')})`);
    }
  }
}
