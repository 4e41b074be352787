import { ContentLengthError } from '../errors.js';
import { FLUSH_MARKER, type Chunk, type Filler, type FillerContext, type WriteCallback, type WrittenChunk } from './filler.js';
import { FlushTimer } from './flush-timer.js';
import type { UploadSession } from './session.js';

/** Chunks up to this size are copied with TypedArray#set (measured faster for small records). */
const SMALL_COPY = 512;

/** The options plain writes read. */
export interface WriteFillerOptions {
  highWaterMark: number;
  contentLength?: number;
  flushInterval?: number;
}

/**
 * Plain writes: copied into the pool's fixed buffers, each full buffer sent
 * the moment it is full. Backpressure is the withheld callback: a full buffer
 * waits for a free transport slot, so memory stays at
 * `highWaterMark × (slots + 1)` whatever the producer or the server does.
 */
export class WriteFiller implements Filler {
  readonly #context: FillerContext;
  readonly #session: UploadSession;
  readonly #bufferSize: number;
  readonly #contentLength: number | undefined;
  readonly #flushTimer: FlushTimer;
  /** The transport holds one send at a time (stream, tus, batch with concurrency 1). */
  readonly #sendsOneAtATime: boolean;
  /** The buffer being filled, taken from the pool when the first byte arrives. */
  #current: Buffer | undefined;
  #filled = 0;
  /** Records kept whole (batch): the length of each write in the current buffer, so a refused batch can be split between writes. */
  #records: number[] | undefined;

  constructor(context: FillerContext, options: WriteFillerOptions) {
    this.#context = context;
    this.#session = context.session;
    this.#bufferSize = options.highWaterMark;
    this.#contentLength = options.contentLength;
    this.#flushTimer = new FlushTimer(options.flushInterval, () => context.flush());
    if (this.#session.transport.keepsWritesWhole) this.#records = [];
    this.#sendsOneAtATime = this.#session.transport.maxInFlight === 1;
  }

  write(chunk: Chunk, encoding: BufferEncoding, callback: WriteCallback): void {
    let pending: void | Promise<void>;
    try {
      pending = this.#append(chunk, encoding);
    } catch (error) {
      callback(error as Error);
      return;
    }
    if (pending) pending.then(() => callback(), callback);
    else callback();
  }

  writev(chunks: WrittenChunk[], callback: WriteCallback): void {
    let index = 0;
    const next = (): void => {
      try {
        while (index < chunks.length) {
          const { chunk, encoding } = chunks[index++]!;
          const pending = this.#append(chunk, encoding);
          if (pending) {
            pending.then(next, callback);
            return;
          }
        }
      } catch (error) {
        callback(error as Error);
        return;
      }
      callback();
    };
    next();
  }

  async finish(): Promise<void> {
    this.#flushTimer.clear();
    await this.#dispatchCurrent(true);
  }

  stop(): undefined {
    this.#flushTimer.clear();
    return undefined;
  }

  /** Takes one chunk; returns a promise only when it had to wait for a transport slot. */
  #append(chunk: Chunk, encoding: BufferEncoding): void | Promise<void> {
    if (chunk === FLUSH_MARKER) return this.#flushCurrent();
    if (typeof chunk === 'string') {
      if (this.#tryWriteString(chunk, encoding)) return this.#dispatchIfFull();
      chunk = Buffer.from(chunk, encoding);
    }
    this.#count(chunk.length);
    if (this.#passesThrough(chunk.length)) return this.#sendAsItIs(chunk);
    if (chunk.length <= this.#bufferSize - this.#filled) {
      this.#copy(chunk, 0, chunk.length);
      this.#records?.push(chunk.length);
      return this.#dispatchIfFull();
    }
    return this.#appendOverflowing(chunk);
  }

  /** Hot path for strings: encode straight into the buffer when the result surely fits. */
  #tryWriteString(text: string, encoding: BufferEncoding): boolean {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit; other encodings are measured.
    const room = this.#bufferSize - this.#filled;
    const fits = encoding === 'utf8' || encoding === 'utf-8' ? text.length * 3 <= room : false;
    if (!fits) return false;
    const buffer = this.#currentBuffer();
    const length = buffer.write(text, this.#filled, encoding);
    this.#count(length);
    this.#records?.push(length);
    if (this.#filled === 0) this.#flushTimer.start();
    this.#filled += length;
    return true;
  }

  /** A chunk that does not fit in the room left: top up and send the buffer (records kept whole: send it as it is), then copy the rest. */
  async #appendOverflowing(chunk: Buffer): Promise<void> {
    let copied = 0;
    if (!this.#session.transport.keepsWritesWhole) {
      copied = this.#bufferSize - this.#filled;
      this.#copy(chunk, 0, copied);
    }
    await this.#dispatchCurrent(false);
    // Full buffers only (S3 parts): what is left of a chunk larger than a buffer goes as it is.
    if (this.#session.transport.sendsFullBuffers && chunk.length - copied >= this.#bufferSize) return this.#sendAsItIs(chunk.subarray(copied));
    // Never fills the fresh buffer: a chunk that would passes through.
    this.#copy(chunk, copied, chunk.length);
    this.#records?.push(chunk.length);
  }

  /**
   * Whether a chunk goes to the transport as it is instead of through a pool
   * buffer: one larger than a buffer, or one that would fill an empty buffer
   * exactly (1 MiB reads into 1 MiB buffers), where a copy buys nothing.
   * With records kept whole, what is buffered goes first anyway, so the
   * chunk meets an empty buffer too; a buffer partly filled by plain writes
   * is topped up instead, which keeps every send a full buffer. Only when the
   * transport sends one buffer at a time: a lent chunk holds its write's
   * callback until the send is over, and with more slots the copy lets the
   * producer fill the next one meanwhile.
   */
  #passesThrough(length: number): boolean {
    // A partly filled buffer must go full (S3 parts): the chunk tops it up first.
    if (this.#session.transport.sendsFullBuffers && this.#filled > 0) return false;
    if (length !== this.#bufferSize) return length > this.#bufferSize;
    return this.#sendsOneAtATime && (this.#filled === 0 || this.#records !== undefined);
  }

  #count(length: number): void {
    const contentLength = this.#contentLength;
    const total = this.#session.bytesWritten + length;
    if (contentLength !== undefined && total > contentLength) {
      // Checked before the bytes reach a buffer: nothing past the declared length goes on the wire.
      throw new ContentLengthError(contentLength, total, this.#session.progress());
    }
    this.#session.written(length);
  }

  #currentBuffer(): Buffer {
    if (this.#current === undefined) this.#current = this.#session.pool.acquire();
    return this.#current;
  }

  #copy(source: Buffer, from: number, to: number): void {
    if (to <= from) return;
    const buffer = this.#currentBuffer();
    if (this.#filled === 0) this.#flushTimer.start();
    if (from === 0 && to === source.length && to <= SMALL_COPY) {
      // TypedArray#set skips Buffer#copy's argument handling: it matters for millions of tiny records.
      buffer.set(source, this.#filled);
      this.#filled += to;
      return;
    }
    this.#filled += source.copy(buffer, this.#filled, from, to);
  }

  /** A full buffer is sent the moment it is full, in every mode. */
  #dispatchIfFull(): void | Promise<void> {
    if (this.#filled === this.#bufferSize) return this.#dispatchCurrent(false);
  }

  /** Sends the current buffer once a slot is free; resolves when it has been handed over. */
  #dispatchCurrent(last: boolean): void | Promise<void> {
    if (this.#filled === 0) return;
    if (!this.#session.hasFreeSlot) {
      return this.#session.slotFree().then(() => this.#dispatchCurrent(last));
    }
    const buffer = this.#current!;
    const bytes = buffer.subarray(0, this.#filled);
    this.#current = undefined;
    this.#filled = 0;
    this.#flushTimer.clear();
    const records = this.#records;
    if (records) this.#records = [];
    void this.#session.send(bytes, { last, ...(records ? { records } : {}) }, () => this.#session.pool.release(buffer));
  }

  /**
   * What was buffered goes first, then the chunk itself. The chunk is the
   * caller's memory: the write's callback waits for this, which resolves
   * once the transport no longer reads it (the stream contract lets us hold
   * it until then).
   */
  async #sendAsItIs(chunk: Buffer): Promise<void> {
    await this.#dispatchCurrent(false);
    while (!this.#session.hasFreeSlot) await this.#session.slotFree();
    await this.#session.send(chunk, { last: false, ...(this.#records ? { records: [chunk.length] } : {}) });
  }

  /** `flush()`: dispatch what is buffered, then settle the caller once every send so far has. */
  #flushCurrent(): void | Promise<void> {
    const point = this.#context.reachedFlush();
    // Sends only ever resolve; after a failure the Writable's destroy rejects the caller instead.
    const settle = (): void => void (this.#session.settled()?.then(() => point.settled()) ?? point.settled());
    // A partial buffer cannot go alone where sends must be full (S3 parts): flush() waits for those in flight.
    const dispatched = this.#session.transport.sendsFullBuffers ? undefined : this.#dispatchCurrent(false);
    if (!dispatched) {
      settle();
      return;
    }
    // A destroy or failure while waiting for the slot must settle flush() too, not leave it pending.
    return dispatched.then(settle, (error: Error) => {
      point.failed(error);
      throw error;
    });
  }
}
