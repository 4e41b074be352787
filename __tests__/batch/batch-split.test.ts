import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { splitBatch, type BatchPiece } from '../../lib/modes/batch/split.js';

/** A batch of the given write lengths, filled with distinct bytes, at `offset`. */
function batchOf(records: number[], offset = 1000): BatchPiece {
  const total = records.reduce((sum, length) => sum + length, 0);
  const backing = Buffer.alloc(total + 16);
  for (let i = 0; i < backing.length; i++) backing[i] = i % 251;
  // A view into a larger buffer, as the pool's buffers are.
  return { bytes: backing.subarray(8, 8 + total), offset, sequence: 7, key: 'k-7', records };
}

/** Boundaries (offsets relative to the batch) after each record. */
function boundaries(records: ArrayLike<number>): Set<number> {
  const set = new Set<number>([0]);
  let at = 0;
  for (let i = 0; i < records.length; i++) set.add((at += records[i]!));
  return set;
}

describe('splitBatch', () => {
  test('cuts at the write boundary nearest the middle; halves keep the sequence, carry their own offset and derived keys', () => {
    const parent = batchOf([10, 30, 5, 5, 50]); // 100 bytes, boundaries 10, 40, 45, 50, 100
    const halves = splitBatch(parent)!;
    expect(halves.map(({ offset, sequence, key, records, bytes }) => ({ offset, sequence, key, records, size: bytes.length }))).toEqual([
      { offset: 1000, sequence: 7, key: 'k-7.0', records: [10, 30, 5, 5], size: 50 },
      { offset: 1050, sequence: 7, key: 'k-7.1', records: [50], size: 50 },
    ]);
  });

  test('the halves are views of the same memory, not copies', () => {
    const parent = batchOf([4, 4]);
    const [left, right] = splitBatch(parent)!;
    expect(left.bytes.buffer).toBe(parent.bytes.buffer);
    expect(right.bytes.byteOffset).toBe(parent.bytes.byteOffset + 4);
  });

  test('on a tie the earlier boundary wins', () => {
    const [left] = splitBatch(batchOf([1, 2, 1]))!; // boundaries 1 and 3 are both 1 byte from the middle (2)
    expect(left.records).toEqual([1]);
  });

  test('a single write cannot be split', () => {
    expect(splitBatch(batchOf([100]))).toBeUndefined();
    // Empty writes around it add no boundary with bytes on both sides.
    expect(splitBatch(batchOf([0, 100, 0]))).toBeUndefined();
    expect(splitBatch(batchOf([]))).toBeUndefined();
  });

  test('splitting a half again derives its key from the half', () => {
    const [left] = splitBatch(batchOf([10, 10, 10, 10]))!;
    const [, leftRight] = splitBatch(left)!;
    expect(leftRight.key).toBe('k-7.0.1');
    expect(leftRight.offset).toBe(1010);
  });

  test('typed-array records are sliced as views', () => {
    const parent = { ...batchOf([3, 3, 3]), records: Uint32Array.of(3, 3, 3) };
    const [left, right] = splitBatch(parent)!;
    expect(left.records).toBeInstanceOf(Uint32Array);
    expect(Array.from(left.records)).toEqual([3]);
    expect(Array.from(right.records)).toEqual([3, 3]);
  });

  test('records that do not add up to the bytes are refused', () => {
    expect(() => splitBatch({ ...batchOf([5, 5]), records: [5, 4] })).toThrow(/add up to 9 bytes, but the batch holds 10/);
    expect(() => splitBatch({ ...batchOf([5, 5]), records: [5.5, 4.5] })).toThrow(RangeError);
  });

  test('property: split recursively down to single writes, the pieces concatenate to the batch, every cut is on a write boundary, and keys are unique', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 300 }), { minLength: 1, maxLength: 60 }), fc.nat({ max: 1e9 }), (records, offset) => {
        const parent = batchOf(records, offset);
        const writeBoundaries = boundaries(records);
        const leaves: BatchPiece[] = [];
        const pending: BatchPiece[] = [parent];
        while (pending.length > 0) {
          const piece = pending.pop()!;
          const halves = splitBatch(piece);
          if (!halves) {
            leaves.push(piece);
            continue;
          }
          const [left, right] = halves;
          expect(left.bytes.length).toBeGreaterThan(0);
          expect(right.bytes.length).toBeGreaterThan(0);
          expect(Buffer.concat([left.bytes, right.bytes]).equals(piece.bytes)).toBe(true);
          expect(right.offset).toBe(left.offset + left.bytes.length);
          expect(writeBoundaries.has(right.offset - offset)).toBe(true);
          // Near the middle: no other boundary of this piece is closer to it.
          const middle = piece.bytes.length / 2;
          for (const at of boundaries(piece.records)) {
            if (at > 0 && at < piece.bytes.length) expect(Math.abs(left.bytes.length - middle)).toBeLessThanOrEqual(Math.abs(at - middle));
          }
          pending.push(right, left);
        }
        leaves.sort((a, b) => a.offset - b.offset || a.bytes.length - b.bytes.length);
        expect(Buffer.concat(leaves.map((leaf) => leaf.bytes)).equals(parent.bytes)).toBe(true);
        expect(new Set(leaves.map((leaf) => leaf.key)).size).toBe(leaves.length);
        for (const leaf of leaves) {
          expect(leaf.sequence).toBe(7);
          // A leaf holds at most one non-empty write.
          expect(Array.from(leaf.records).filter((length) => length > 0).length).toBeLessThanOrEqual(1);
        }
      }),
    );
  });
});
