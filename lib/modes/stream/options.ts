import type { DigestAlgorithm, UploadMethod } from '../../types.js';
import { resolveDigest, resolveMethod, type CommonOptions, type ModeOptionRules } from '../../options/common.js';
import { resolveContinue, type ContinueOptions } from '../../options/continue.js';

/** `mode: 'stream'` after defaults and validation: what the stream transport receives. */
export interface StreamOptions extends CommonOptions, ContinueOptions {
  mode: 'stream';
  method: UploadMethod;
  digest: DigestAlgorithm | false;
}

/** stream: one chunked request (or one with `Content-Length`) carrying the whole upload. */
export const streamRules: ModeOptionRules<StreamOptions> = {
  options: ['method', 'contentLength', 'expectContinueTimeout', 'digest'],
  resolve: (options, common) => ({
    ...common,
    ...resolveContinue(options, common),
    mode: 'stream',
    method: resolveMethod(options.method),
    digest: resolveDigest(options.digest),
  }),
};
