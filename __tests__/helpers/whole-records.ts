import { expect } from '@jest/globals';
import type { CapacityServer } from './capacity-server.js';

// Apart from capacity-server.ts, which bench/drivers/overload.ts imports outside Jest (where '@jest/globals' cannot load).

/**
 * Every record delivered exactly once and whole: what `target` reassembled
 * (deduplicated, by offset) equals `expected`, no repeat of a key carried
 * other bytes, and every stored batch starts where a record starts and ends
 * with its newline (NDJSON lines are never split).
 */
export function expectWholeRecords(target: CapacityServer, expected: Buffer, lines: readonly string[]): void {
  const recordStarts = new Set<number>([0]);
  let offset = 0;
  for (const line of lines) recordStarts.add((offset += Buffer.byteLength(line)));
  expect(target.problems()).toEqual([]);
  expect(target.mismatches).toBe(0);
  expect(target.assembled().equals(expected)).toBe(true);
  for (const batch of target.stored.values()) {
    expect(recordStarts.has(batch.offset)).toBe(true);
    expect(batch.body.at(-1)).toBe(0x0a);
  }
}
