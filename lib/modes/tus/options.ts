import type { DigestAlgorithm, TusOffset } from '../../types.js';
import type { RetrySettings } from '../../http/retry.js';
import { resolveDigest, type CommonOptions, type ModeOptionRules } from '../../options/common.js';
import { resolveContinue, type ContinueOptions } from '../../options/continue.js';
import { resolveRetry } from '../../options/retry.js';
import { booleanOption, headerRecord, httpUrl, nonNegativeInteger, plainObject, refuseUnknownFields } from '../../options/validators.js';

/** `mode: 'tus'` after defaults and validation. */
export interface TusOptions extends CommonOptions, ContinueOptions {
  mode: 'tus';
  retry: RetrySettings;
  uploadUrl?: URL;
  /** The server's offset (and length) of `uploadUrl`, already asked: the transport skips its own `HEAD`. */
  resumeFrom?: TusOffset;
  /** `Upload-Metadata`'s value, encoded (and its keys checked) when the options are read. */
  metadata?: string;
  deleteOnAbort: boolean;
  allowInsecureLocation: boolean;
  digest: DigestAlgorithm | false;
}

/** tus: the resumable upload protocol (creation, `PATCH` at the server's offset, `HEAD` to resume). */
export const tusRules: ModeOptionRules<TusOptions> = {
  options: ['contentLength', 'expectContinueTimeout', 'retry', 'uploadUrl', 'resumeFrom', 'metadata', 'deleteOnAbort', 'allowInsecureLocation', 'digest'],
  resolve(options, common) {
    const tus: TusOptions = {
      ...common,
      ...resolveContinue(options, common),
      mode: 'tus',
      retry: resolveRetry(options.retry, common.got),
      deleteOnAbort: booleanOption('deleteOnAbort', options.deleteOnAbort ?? false),
      allowInsecureLocation: booleanOption('allowInsecureLocation', options.allowInsecureLocation ?? false),
      digest: resolveDigest(options.digest),
    };
    if (options.uploadUrl !== undefined) tus.uploadUrl = httpUrl('uploadUrl', options.uploadUrl);
    if (options.resumeFrom !== undefined) {
      if (tus.uploadUrl === undefined) throw new TypeError('resumeFrom applies only with uploadUrl (the upload whose offset it is)');
      tus.resumeFrom = resolveResumeFrom(options.resumeFrom);
    }
    if (options.metadata !== undefined) {
      const metadata = headerRecord(options.metadata, 'metadata');
      if (Object.keys(metadata).length > 0) tus.metadata = encodeMetadata(metadata);
    }
    return tus;
  },
};

/**
 * `Upload-Metadata` (tus 1.0 §Upload-Metadata): comma-separated `key base64(value)`
 * pairs; a key may stand alone when its value is empty. Keys may not hold
 * spaces or commas, so they are checked here rather than mangled.
 */
function encodeMetadata(metadata: Record<string, string>): string {
  return Object.entries(metadata)
    .map(([key, value]) => {
      if (!/^[!-+\--~]+$/.test(key)) {
        throw new TypeError(`metadata key ${JSON.stringify(key)} must be non-empty printable ASCII without spaces or commas (tus Upload-Metadata)`);
      }
      return value === '' ? key : `${key} ${Buffer.from(value, 'utf8').toString('base64')}`;
    })
    .join(',');
}

const RESUME_FROM_FIELDS = ['offset', 'length'];

/** A `fetchTusOffset` answer: `offset`, and `length` when the server knows it (never below the offset). */
function resolveResumeFrom(value: TusOffset): TusOffset {
  const state = plainObject('resumeFrom', value)!;
  refuseUnknownFields('resumeFrom', state, RESUME_FROM_FIELDS);
  const resumeFrom: TusOffset = { offset: nonNegativeInteger('resumeFrom.offset', state.offset) };
  if (state.length !== undefined) {
    resumeFrom.length = nonNegativeInteger('resumeFrom.length', state.length);
    if (resumeFrom.length < resumeFrom.offset) {
      throw new RangeError(`resumeFrom.length must not be below resumeFrom.offset ${resumeFrom.offset}, received ${resumeFrom.length}`);
    }
  }
  return resumeFrom;
}
