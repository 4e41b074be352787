import { createHash } from 'node:crypto';
import { loadOptional } from '../../optional-package.js';
import type { AzureBlobChecksum } from '../../types.js';

/** The header by which the Blob service checks a block's (or a small blob's) bytes before it stores them. */
export interface BlockChecksum {
  header: 'content-md5' | 'x-ms-content-crc64';
  value: string;
}

/**
 * `Content-MD5` (node:crypto) or `x-ms-content-crc64`: the service answers
 * 400 `Md5Mismatch` or `Crc64Mismatch` for a block changed on the way. Never
 * both: the service refuses a request carrying the two.
 */
export async function blockChecksum(bytes: Buffer, checksum: AzureBlobChecksum | false): Promise<BlockChecksum | undefined> {
  if (checksum === false) return undefined;
  if (checksum === 'md5') return { header: 'content-md5', value: md5(bytes) };
  return { header: 'x-ms-content-crc64', value: await crc64(bytes) };
}

export function md5(bytes: Buffer): string {
  return createHash('md5').update(bytes).digest('base64');
}

interface Crc64Hash {
  update(bytes: Uint8Array): void;
  digest(): Promise<Uint8Array>;
}

let Crc64Nvme: (new () => Crc64Hash) | undefined;

/**
 * Azure's CRC-64 is CRC-64/NVME (reflected polynomial 0x9A6C9329AC4BC9B5,
 * init and xorout all ones), sent as the base64 of its 8 bytes
 * little-endian; `@aws-sdk/crc64-nvme` gives them big-endian (S3's order),
 * so they are reversed. The package is an optional peer dependency
 * (lib/optional-package.ts), loaded on the first block that needs it.
 */
async function crc64(bytes: Buffer): Promise<string> {
  Crc64Nvme ??= loadOptional<{ Crc64Nvme: new () => Crc64Hash }>('@aws-sdk/crc64-nvme').Crc64Nvme;
  const hash = new Crc64Nvme();
  hash.update(bytes);
  return Buffer.from(await hash.digest())
    .reverse()
    .toString('base64');
}
