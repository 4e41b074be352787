import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { createRequire } from 'node:module';
import type { S3ChecksumAlgorithm } from '../../types.js';

/**
 * What protects a request's body on the way to S3: a checksum S3 verifies
 * (`x-amz-checksum-*`) and the payload hash SigV4 signs
 * (`x-amz-content-sha256`). Exactly one full hash of every byte is computed:
 * - crc32 / crc32c: the checksum header, signed, and `UNSIGNED-PAYLOAD`
 *   (what the AWS SDKs do over TLS): a CRC costs a fraction of a SHA-256,
 *   and S3 refuses a body that does not match the signed header;
 * - sha256: the same digest serves both (hex signed, base64 as the checksum);
 * - no checksum: the payload is signed by its SHA-256, so S3 still refuses
 *   a changed byte (`XAmzContentSHA256Mismatch`).
 */
export interface BodyProtection {
  /** `x-amz-content-sha256`: the payload's hex SHA-256, or `UNSIGNED-PAYLOAD`. */
  payloadHash: string;
  /** The checksum header and its base64 value, when one is sent. */
  checksum?: { header: string; value: string };
}

/** S3's name of an algorithm, as `x-amz-checksum-algorithm` and the XML's `Checksum<NAME>` say it. */
export const CHECKSUM_NAMES: Readonly<Record<S3ChecksumAlgorithm, string>> = { crc32: 'CRC32', crc32c: 'CRC32C', sha256: 'SHA256' };

export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

/** The hash of `bytes` S3 verifies and the payload hash to sign, for `algorithm`. */
export function protectBody(bytes: Buffer, algorithm: S3ChecksumAlgorithm | false): BodyProtection {
  if (algorithm === false || algorithm === 'sha256') {
    const digest = createHash('sha256').update(bytes).digest();
    const payloadHash = digest.toString('hex');
    return algorithm === false ? { payloadHash } : { payloadHash, checksum: { header: 'x-amz-checksum-sha256', value: digest.toString('base64') } };
  }
  const value = algorithm === 'crc32' ? crc32(bytes) : crc32c()(bytes);
  return { payloadHash: UNSIGNED_PAYLOAD, checksum: { header: `x-amz-checksum-${algorithm}`, value: uint32Base64(value) } };
}

/** S3 sends a CRC as the base64 of its 4 bytes, big-endian. */
function uint32Base64(value: number): string {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value >>> 0);
  return bytes.toString('base64');
}

let crc32cFunction: ((input: Uint8Array) => number) | undefined;

/** CRC-32C (Castagnoli), which node:zlib lacks: `@node-rs/crc32` (a dependency) computes it with the CPU's instructions. Loaded on first use. */
function crc32c(): (input: Uint8Array) => number {
  crc32cFunction ??= (createRequire(import.meta.url)('@node-rs/crc32') as { crc32c: (input: Uint8Array) => number }).crc32c;
  return crc32cFunction;
}
