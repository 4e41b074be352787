import { contentDigestField } from '../lib/index.js';
import type { UploadArgs } from './args.js';
import { createHasher, type Digests, type Hasher, type HashName } from './hasher.js';
import type { UploadSummary } from './report.js';

/*
 * The digests the CLI prints of what it sent: `--sha256`'s hex, and with
 * `--digest` in stream mode the body's `Content-Digest`. Batch requests and
 * tus PATCHes each carry a digest of their own bytes, so there is no single
 * one to print for them.
 */

const NODE_NAMES = { 'sha-256': 'sha256', 'sha-512': 'sha512' } as const;

/** One hasher for every digest this run prints (one copy of each buffer, off the main thread where it can be); undefined when none is asked. */
export function hasherFor(args: UploadArgs): Hasher | undefined {
  const names = new Set<HashName>();
  if (args.sha256) names.add('sha256');
  if (args.digest && args.mode === 'stream') names.add(NODE_NAMES[args.digest]);
  return names.size > 0 ? createHasher([...names]) : undefined;
}

/** The summary's `sha256`, `digest` and `contentDigest`, as asked. */
export function digestFields(args: UploadArgs, digests: Digests | undefined): Pick<UploadSummary, 'sha256' | 'digest' | 'contentDigest'> {
  const fields: Pick<UploadSummary, 'sha256' | 'digest' | 'contentDigest'> = {};
  if (args.sha256) fields.sha256 = digests!.sha256!.toString('hex');
  if (args.digest) {
    fields.digest = args.digest;
    const sent = digests?.[NODE_NAMES[args.digest]];
    // The library's own formatter: what the trailer carried, byte for byte.
    if (sent) fields.contentDigest = contentDigestField(args.digest, sent);
  }
  return fields;
}
