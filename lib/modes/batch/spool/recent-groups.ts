/**
 * What this process wrote last, kept in memory: a consumer that keeps up with
 * the producer reads its batches from here instead of from the page cache.
 * Bounded by `KEEP_BYTES`; the oldest groups go first, and the staging
 * buffers they were in are reused. Everything here is also on disk: a miss
 * only costs a read.
 */
const KEEP_BYTES = 4 << 20;
/** Spare staging buffers kept for reuse. */
const MAX_SPARE = 1;

interface RecentGroup {
  /** Stream position of the group's first byte. */
  start: number;
  /** The group's frames, whole. */
  bytes: Buffer;
  /** The buffer `bytes` lies in, to reuse for staging once the group goes; undefined for a copy. */
  staging?: Buffer;
}

export class RecentGroups {
  readonly #groups: RecentGroup[] = [];
  readonly #spare: Buffer[] = [];
  #keptBytes = 0;

  /**
   * Keeps a group just written from `staging` (`bytes` is a view of it);
   * returns the buffer to stage the next group in. A large group keeps its
   * staging buffer; a small one is copied, so a one-record append does not
   * hold a whole staging buffer.
   */
  keep(start: number, bytes: Buffer, staging: Buffer): Buffer {
    if (bytes.length > KEEP_BYTES) return staging;
    const small = bytes.length < staging.length / 4;
    this.#groups.push(small ? { start, bytes: Buffer.from(bytes) } : { start, bytes, staging });
    this.#keptBytes += bytes.length;
    while (this.#keptBytes > KEEP_BYTES) this.#forget();
    if (small) return staging;
    const spare = this.#spare.findIndex((buffer) => buffer.length >= staging.length);
    return spare >= 0 ? this.#spare.splice(spare, 1)[0]! : Buffer.allocUnsafe(staging.length);
  }

  /** Forgets the groups that end at or before `position` (read into batches). */
  dropBefore(position: number): void {
    while (this.#groups.length > 0 && this.#groups[0]!.start + this.#groups[0]!.bytes.length <= position) this.#forget();
  }

  /**
   * Copies the bytes at stream `position` that are kept here (up to `count`)
   * into `target` at `offset`; returns how many (0 when `position` is not kept).
   */
  read(target: Buffer, offset: number, count: number, position: number): number {
    let copied = 0;
    for (const group of this.#groups) {
      const at = position + copied;
      if (at < group.start || at >= group.start + group.bytes.length) continue;
      const from = at - group.start;
      const length = Math.min(count - copied, group.bytes.length - from);
      group.bytes.copy(target, offset + copied, from, from + length);
      copied += length;
      if (copied === count) break;
    }
    return copied;
  }

  #forget(): void {
    const group = this.#groups.shift()!;
    this.#keptBytes -= group.bytes.length;
    if (group.staging && this.#spare.length < MAX_SPARE) this.#spare.push(group.staging);
  }
}
