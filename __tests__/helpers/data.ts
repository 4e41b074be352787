import { Readable } from 'node:stream';

/** A deterministic pseudo-random byte pattern: a misplaced byte changes its digest. */
export function pattern(length: number, seed = 1): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    bytes[i] = x >>> 16;
  }
  return bytes;
}

/** Cuts `data` into consecutive chunks whose sizes cycle through `sizes`. */
export function chunksOf(data: Buffer, sizes: number[]): Buffer[] {
  const chunks: Buffer[] = [];
  let offset = 0;
  for (let i = 0; offset < data.length; i++) {
    const size = sizes[i % sizes.length]!;
    chunks.push(data.subarray(offset, offset + size));
    offset += size;
  }
  return chunks;
}

/** A readable of `chunks`, one `write()` each at the destination. */
export function readableOf(chunks: Array<Buffer | string>): Readable {
  return Readable.from(chunks, { objectMode: false });
}
