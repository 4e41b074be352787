/**
 * A fixed set of equally sized buffers, allocated once. A filler
 * fills one while the transport holds the others; a buffer comes back only
 * when the transport says nothing (socket, retry) can still read it.
 *
 * The pool never grows: running out is the caller's bug, not a reason to
 * allocate, because the pool's size is the memory bound the library promises.
 */
export class BufferPool {
  readonly #capacity: number;
  readonly #free: Buffer[] = [];
  /** Every buffer this pool made: release() takes back only these. */
  readonly #own = new Set<Buffer>();

  constructor(bufferSize: number, capacity: number) {
    this.#capacity = capacity;
    for (let i = 0; i < capacity; i++) {
      // allocUnsafeSlow: our own backing memory, not a slice of Node's shared pool.
      const buffer = Buffer.allocUnsafeSlow(bufferSize);
      this.#own.add(buffer);
      this.#free.push(buffer);
    }
  }

  /** Buffers ready to be filled. */
  get available(): number {
    return this.#free.length;
  }

  acquire(): Buffer {
    const buffer = this.#free.pop();
    if (buffer === undefined) {
      throw new Error(`BufferPool exhausted: all ${this.#capacity} buffers are in use`);
    }
    return buffer;
  }

  release(buffer: Buffer): void {
    if (!this.#own.has(buffer)) throw new Error('BufferPool.release: the buffer is not from this pool');
    if (this.#free.includes(buffer)) throw new Error('BufferPool.release: the buffer was released twice');
    this.#free.push(buffer);
  }
}
