import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { DigestAlgorithm, TusChecksum, TusChecksumAlgorithm } from '../../types.js';

/**
 * The tus checksum extension (tus 1.0 §checksum): a server lists `checksum`
 * in `Tus-Extension` and the algorithms it verifies in
 * `Tus-Checksum-Algorithm`; each PATCH may then carry
 * `Upload-Checksum: <algorithm> <base64 digest of its body>`, and a body
 * that does not match is answered 460 and discarded.
 */

/** tus names the algorithms as the hash registry does, without RFC 9530's hyphen. */
const TUS_NAMES: Readonly<Record<DigestAlgorithm, TusChecksumAlgorithm>> = { 'sha-256': 'sha256', 'sha-512': 'sha512' };

/** What a server lists: its algorithms (none without the checksum extension), or undefined when the answer lists no extensions at all. */
export function listedChecksums(headers: IncomingHttpHeaders): string[] | undefined {
  const extensions = listOf(headers['tus-extension']);
  if (extensions === undefined) return undefined;
  if (!extensions.includes('checksum')) return [];
  return listOf(headers['tus-checksum-algorithm']) ?? [];
}

/** The state an upload starts with: verified when the server lists `digest`'s algorithm. */
export function checksumState(digest: DigestAlgorithm, listed: string[] | undefined): TusChecksum {
  const algorithm = TUS_NAMES[digest];
  return { algorithm, verified: listed?.includes(algorithm) ?? false, mismatches: 0 };
}

/** `Upload-Checksum` for one PATCH body: hashed once, in one call (the bytes are in memory). */
export function uploadChecksum(algorithm: TusChecksumAlgorithm, body: Buffer): string {
  return `${algorithm} ${createHash(algorithm).update(body).digest('base64')}`;
}

/** A comma-separated header as lower-case names; undefined when absent. */
function listOf(value: string | string[] | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  // An array (a repeated field) reads as its values joined by commas, as the list it is.
  return String(value)
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter(Boolean);
}
