import type { DigestAlgorithm, UploadMethod } from '../../types.js';
import { resolveDigest, resolveMethod, type CommonOptions, type ModeOptionRules } from '../../options/common.js';
import { resolveContinue, type ContinueOptions } from '../../options/continue.js';

/** `mode: 'stream'` after defaults and validation: what the stream transport receives. */
export interface StreamOptions extends CommonOptions, ContinueOptions {
  mode: 'stream';
  method: UploadMethod;
  digest: DigestAlgorithm | false;
  /**
   * `uploadFile` with `digest` and a sized body: the whole file's digest,
   * hashed before the first byte, so it goes as a header (HTTP/1.1 has no
   * trailers on a body with `Content-Length`).
   */
  knownDigest?: Buffer;
}

/** stream: one chunked request (or one with `Content-Length`) carrying the whole upload. */
export const streamRules: ModeOptionRules<StreamOptions> = {
  options: ['method', 'contentLength', 'expectContinueTimeout', 'digest'],
  resolve: (options, common) => ({
    ...common,
    ...resolveContinue(options, common),
    mode: 'stream',
    method: resolveMethod(options.method),
    digest: sizedBodyRefused(resolveDigest(options.digest), common.contentLength),
  }),
};

/**
 * A streamed digest travels in a trailer, which only a chunked body has
 * (RFC 9112 §7.1.2): with `contentLength` the Writable cannot know it before
 * the first byte. Refused rather than sent without the size the caller asked
 * for; `uploadFile` hashes the whole file first and sends it as a header.
 */
function sizedBodyRefused(digest: DigestAlgorithm | false, contentLength: number | undefined): DigestAlgorithm | false {
  if (digest && contentLength !== undefined) {
    throw new TypeError(
      `digest in stream mode goes in a trailer, which a body with contentLength cannot carry: leave out contentLength (chunked body) or digest, received contentLength ${contentLength} with digest '${digest}'`,
    );
  }
  return digest;
}
