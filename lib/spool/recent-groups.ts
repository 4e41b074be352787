/**
 * The last few groups this process wrote, kept in the staging buffers they
 * were written from: a consumer that keeps up with the producer reads its
 * batches from here, without a read from the page cache. Bounded: at most
 * `MAX_GROUPS` groups, and only groups written from one staging buffer
 * (none with large records beside it); the oldest go first, and their
 * buffers are reused for staging. Everything here is also on disk: a miss
 * only costs a read.
 */
const MAX_GROUPS = 4;

interface RecentGroup {
  /** Stream position of the group's first byte. */
  start: number;
  /** The group's frames, whole. */
  bytes: Buffer;
}

export class RecentGroups {
  readonly #groups: RecentGroup[] = [];
  readonly #spare: Buffer[] = [];

  /** Keeps a group just written; `bytes` must not change afterwards. */
  keep(start: number, bytes: Buffer): void {
    this.#groups.push({ start, bytes });
    if (this.#groups.length > MAX_GROUPS) this.#recycle(this.#groups.shift()!);
  }

  /** Forgets the groups that end at or before `position` (read into batches). */
  dropBefore(position: number): void {
    while (this.#groups.length > 0 && this.#groups[0]!.start + this.#groups[0]!.bytes.length <= position) this.#recycle(this.#groups.shift()!);
  }

  /** A buffer of at least `size` bytes for staging the next group: a recycled one when there is one. */
  stagingBuffer(size: number): Buffer {
    const index = this.#spare.findIndex((buffer) => buffer.length >= size);
    return index >= 0 ? this.#spare.splice(index, 1)[0]! : Buffer.allocUnsafe(size);
  }

  /**
   * Copies the bytes at stream `position` that are kept here (up to `count`)
   * into `target` at `offset`; returns how many (0 when `position` is not kept).
   */
  read(target: Buffer, offset: number, count: number, position: number): number {
    let copied = 0;
    for (const group of this.#groups) {
      const end = group.start + group.bytes.length;
      if (position + copied < group.start || position + copied >= end) continue;
      const from = position + copied - group.start;
      const length = Math.min(count - copied, group.bytes.length - from);
      group.bytes.copy(target, offset + copied, from, from + length);
      copied += length;
      if (copied === count) break;
    }
    return copied;
  }

  /** Drops everything (the groups' bytes may be rewritten, e.g. a torn write was cut). */
  clear(): void {
    for (const group of this.#groups.splice(0)) this.#recycle(group);
  }

  #recycle(group: RecentGroup): void {
    // A group is a view from 0 of its staging buffer: give the whole buffer back.
    const buffer = Buffer.from(group.bytes.buffer, group.bytes.byteOffset, group.bytes.buffer.byteLength - group.bytes.byteOffset);
    if (this.#spare.length < 2) this.#spare.push(buffer);
  }
}
