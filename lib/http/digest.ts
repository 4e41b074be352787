import { createHash, type Hash } from 'node:crypto';
import { parseDictionary, serializeDictionary } from 'structured-headers';
import type { DigestAlgorithm } from '../types.js';

/**
 * RFC 9530 digests on the client: the one home of the algorithm names, the
 * hashing and the `Content-Digest` / `Repr-Digest` fields. The fields are
 * RFC 8941 dictionaries (`sha-256=:<base64>:`), written and read with the
 * `structured-headers` package, never by hand.
 *
 * - `Content-Digest` (RFC 9530 §2): the bytes of the message content as sent,
 *   after any Content-Encoding (gzip), before Transfer-Encoding (chunks).
 * - `Repr-Digest` (§3): the representation's bytes; the same bytes when no
 *   content coding applies.
 */

/** The field names, lower case as Node gives them (`IncomingMessage.headers`, `.trailers`). */
export const CONTENT_DIGEST = 'content-digest';
export const REPR_DIGEST = 'repr-digest';

/** node:crypto's name for each RFC 9530 algorithm key (the IANA registry's "Active" ones). */
const NODE_HASHES: Readonly<Record<DigestAlgorithm, string>> = { 'sha-256': 'sha256', 'sha-512': 'sha512' };

/** A running hash for `algorithm`: update it with each buffer as it is sent, `digest()` once at the end. */
export function createDigest(algorithm: DigestAlgorithm): Hash {
  return createHash(NODE_HASHES[algorithm]);
}

/** The digest of bytes held whole (a batch as sent). */
export function digestOf(algorithm: DigestAlgorithm, bytes: Uint8Array): Buffer {
  return createDigest(algorithm).update(bytes).digest();
}

/** A `Content-Digest` or `Repr-Digest` field value: `sha-256=:<base64>:`. */
export function contentDigestField(algorithm: DigestAlgorithm, digest: Uint8Array): string {
  return serializeDictionary({ [algorithm]: digest });
}

/**
 * A digest field's members that hold a byte sequence, by algorithm key
 * (lower case, as sent). Keys the caller does not know are kept: RFC 9530
 * §2 tells a recipient to ignore them, not to fail. Throws the library's
 * `ParseError` on a value that is no structured-field dictionary.
 */
export function parseDigestField(value: string): Map<string, Buffer> {
  const digests = new Map<string, Buffer>();
  for (const [key, member] of parseDictionary(value)) {
    const [item] = member;
    if (item instanceof ArrayBuffer) digests.set(key, Buffer.from(item));
  }
  return digests;
}

/** Whether `algorithm` is one this library computes (a receiver checks the members it can and ignores the rest). */
export function isDigestAlgorithm(key: string): key is DigestAlgorithm {
  return Object.hasOwn(NODE_HASHES, key);
}
