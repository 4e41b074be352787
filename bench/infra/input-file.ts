import { randomFillSync } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { MiB } from './stats.js';

/** The test file: random bytes (1 MiB block repeated), written once; it stays in the page cache. */
export function makeInputFile(file: string, bytes: number): void {
  const block = randomFillSync(Buffer.allocUnsafe(MiB));
  const fd = openSync(file, 'w');
  try {
    for (let written = 0; written < bytes; written += block.length) writeSync(fd, block, 0, Math.min(block.length, bytes - written));
  } finally {
    closeSync(fd);
  }
}
