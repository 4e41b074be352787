/**
 * A fixed set of equally sized buffers, allocated once. The Writable core
 * fills one while the transport holds the others; a buffer comes back only
 * when the transport says nothing (socket, retry) can still read it.
 *
 * The pool never grows: running out is the caller's bug, not a reason to
 * allocate, because the pool's size is the memory bound the library promises.
 */
export class BufferPool {
  readonly bufferSize: number;
  readonly capacity: number;
  readonly #free: Buffer[] = [];

  constructor(bufferSize: number, capacity: number) {
    this.bufferSize = bufferSize;
    this.capacity = capacity;
    for (let i = 0; i < capacity; i++) {
      // allocUnsafeSlow: our own backing memory, not a slice of Node's shared pool.
      this.#free.push(Buffer.allocUnsafeSlow(bufferSize));
    }
  }

  /** Buffers ready to be filled. */
  get available(): number {
    return this.#free.length;
  }

  acquire(): Buffer {
    const buffer = this.#free.pop();
    if (buffer === undefined) {
      throw new Error(`BufferPool exhausted: all ${this.capacity} buffers are in use`);
    }
    return buffer;
  }

  release(buffer: Buffer): void {
    if (this.#free.length >= this.capacity || this.#free.includes(buffer)) {
      throw new Error('BufferPool.release: buffer released twice or not from this pool');
    }
    this.#free.push(buffer);
  }
}
