import { randomBytes } from 'node:crypto';

/*
 * Block ids: Azure requires every block id of a blob to have the same length
 * (base64 of at most 64 bytes). Ours are base64 of the upload's nonce and the
 * block's number written with a fixed number of digits, so every block of
 * every upload has the same width, and a resumed upload reads its own blocks
 * back from the server's uncommitted list by their nonce.
 */

/** Digits of a block number: a blob holds at most 50 000 blocks. */
const NUMBER_DIGITS = 6;

/** A new upload's nonce: 24 hex characters, so a block id is base64 of 30 bytes (40 characters, no padding). */
export function newNonce(): string {
  return randomBytes(12).toString('hex');
}

/** The block id of block `number` (1-based) of the upload `nonce`. */
export function blockId(nonce: string, number: number): string {
  return Buffer.from(`${nonce}${String(number).padStart(NUMBER_DIGITS, '0')}`, 'latin1').toString('base64');
}

/** The number of the block `id` in the upload `nonce`; undefined for a block of another upload. */
export function blockNumber(nonce: string, id: string): number | undefined {
  const raw = Buffer.from(id, 'base64').toString('latin1');
  if (raw.length !== nonce.length + NUMBER_DIGITS || !raw.startsWith(nonce)) return undefined;
  const digits = raw.slice(nonce.length);
  if (!/^\d+$/.test(digits)) return undefined;
  const number = Number(digits);
  return number > 0 && blockId(nonce, number) === id ? number : undefined;
}
