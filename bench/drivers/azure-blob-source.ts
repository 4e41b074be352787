import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pattern } from '../../__tests__/helpers/data.js';

/** The bench's bytes: a 1 MiB pseudo-random block repeated, in 64 KiB views of it, as a stream that does not say its length. */
const BLOCK = pattern(1024 * 1024, 42);
const CHUNK = 64 * 1024;

export function benchSource(bytes: number): Readable {
  let offset = 0;
  return new Readable({
    read() {
      if (offset >= bytes) {
        this.push(null);
        return;
      }
      const size = Math.min(CHUNK, bytes - offset);
      const at = offset % BLOCK.length;
      // No copy: both clients copy what they are given into their own buffers, so the source itself costs no memory.
      this.push(BLOCK.subarray(at, at + size));
      offset += size;
    },
  });
}

/** The sha256 of `benchSource(bytes)`, to check every blob read back. */
export function benchSourceSha256(bytes: number): string {
  const hash = createHash('sha256');
  for (let offset = 0; offset < bytes; offset += CHUNK) {
    const at = offset % BLOCK.length;
    hash.update(BLOCK.subarray(at, at + Math.min(CHUNK, bytes - offset)));
  }
  return hash.digest('hex');
}
