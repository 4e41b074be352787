/**
 * A batch answered 413 (Content Too Large, RFC 9110 §15.5.14) is split at a
 * write boundary near its middle and each half is sent as a batch of its own,
 * so one oversized batch does not end the upload. Writes are records (an NDJSON line, a metric), so a boundary
 * between two writes is the only safe place to cut: a server that parses each
 * request sees whole records.
 *
 * The halves keep the parent's `Batch-Sequence` (the server still orders by
 * it, then by offset), carry the `Batch-Offset` of their own first byte, and
 * get keys derived from the parent's (`<key>.0`, `<key>.1`), so a server that
 * deduplicates by `Idempotency-Key` stays correct and a retried half is
 * recognised. A half answered 413 again is split again (`<key>.0.1`, …) down
 * to single writes; a single write cannot be split and fails as today.
 *
 * Memory: the halves are views of the parent's buffer (no copy), so the pool
 * bound of invariant 3 holds; the buffer goes back to the pool once every
 * piece is acknowledged.
 */

export interface BatchPiece {
  /** The bytes, a view of the buffer the batch was sent from. */
  readonly bytes: Buffer;
  /** Byte offset of the first byte in the whole upload (`Batch-Offset`). */
  readonly offset: number;
  /** The parent batch's `Batch-Sequence`, unchanged by splitting. */
  readonly sequence: number;
  /** `Idempotency-Key`: the parent's, with `.0`/`.1` appended per split. */
  readonly key: string;
  /**
   * Lengths of the writes in `bytes`, in order; they add up to `bytes.length`.
   * An `ArrayLike` so the core may keep them in a typed array on its hot path.
   */
  readonly records: ArrayLike<number>;
}

/**
 * Splits `piece` at the write boundary nearest its middle (the earlier one on
 * a tie), or returns undefined when it holds a single write (nothing can be
 * cut). Throws a RangeError when `records` does not add up to the bytes.
 */
export function splitBatch(piece: BatchPiece): [BatchPiece, BatchPiece] | undefined {
  const { bytes, records } = piece;
  let total = 0;
  for (let index = 0; index < records.length; index++) {
    const length = records[index]!;
    if (!Number.isInteger(length) || length < 0) throw new RangeError(`records[${index}] must be a non-negative integer, received ${String(length)}`);
    total += length;
  }
  if (total !== bytes.length) throw new RangeError(`records add up to ${total} bytes, but the batch holds ${bytes.length}`);

  // The boundary after record `cut - 1` closest to the middle, with bytes on both sides.
  const middle = total / 2;
  let best = -1;
  let bestAt = 0;
  let at = 0;
  for (let cut = 1; cut < records.length; cut++) {
    at += records[cut - 1]!;
    if (at === 0 || at === total) continue;
    if (best === -1 || Math.abs(at - middle) < Math.abs(bestAt - middle)) {
      best = cut;
      bestAt = at;
    }
    // Past the middle, every later boundary is farther.
    if (at >= middle) break;
  }
  if (best === -1) return undefined;

  return [
    { bytes: bytes.subarray(0, bestAt), offset: piece.offset, sequence: piece.sequence, key: `${piece.key}.0`, records: sliceOf(records, 0, best) },
    {
      bytes: bytes.subarray(bestAt),
      offset: piece.offset + bestAt,
      sequence: piece.sequence,
      key: `${piece.key}.1`,
      records: sliceOf(records, best, records.length),
    },
  ];
}

/** A slice that stays a view when the records are a typed array. */
function sliceOf(records: ArrayLike<number>, start: number, end: number): ArrayLike<number> {
  if (ArrayBuffer.isView(records) && 'subarray' in records && typeof records.subarray === 'function') {
    return (records as unknown as Uint32Array).subarray(start, end);
  }
  return Array.prototype.slice.call(records, start, end) as number[];
}
