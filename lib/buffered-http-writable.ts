import { addAbortSignal, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { BufferPool } from './buffer-pool.js';
import { ContentLengthError } from './errors.js';
import { resolveOptions, type BufferedHttpWritableOptions, type ResolvedOptions } from './options.js';
import { Progress, type ProgressSnapshot } from './progress.js';
import { createTransport } from './transports/create.js';
import type { BatchReport, Transport, UploadResponse } from './transports/transport.js';
import { fetchTusOffset, type FetchTusOffsetOptions, type TusOffset } from './transports/tus.js';

type Chunk = Buffer | string;

/** Written through the stream's own queue by `flush()`, so a flush lands after every earlier write. */
const FLUSH_MARKER = Buffer.alloc(0);

/** Chunks up to this size are copied with TypedArray#set (measured faster for small records). */
const SMALL_COPY = 512;

interface Deferred {
  resolve(): void;
  reject(error: Error): void;
}

/**
 * A `stream.Writable` that copies what is written into fixed, preallocated
 * buffers and hands each full buffer to a transport (stream, batch or tus).
 *
 * This class owns buffering, backpressure and the stream lifecycle and knows
 * nothing of HTTP. Backpressure is the withheld `_write` callback: a full
 * buffer waits for a free transport slot, so memory stays at
 * `highWaterMark × (slots + 1)` whatever the producer or the server does.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- typed event overloads below
export class BufferedHttpWritable extends Writable {
  readonly #options: ResolvedOptions;
  readonly #progress: Progress;
  readonly #transport: Transport;
  readonly #pool: BufferPool;
  readonly #bufferSize: number;
  /** The buffer being filled, taken from the pool when the first byte arrives. */
  #current: Buffer | undefined;
  #filled = 0;
  #sequence = 0;
  /** Bytes handed to the transport so far: the offset of the next send. */
  #dispatched = 0;
  #inFlight = 0;
  readonly #pendingSends = new Set<Promise<void>>();
  #slotWaiter: (() => void) | undefined;
  readonly #flushWaiters: Deferred[] = [];
  #flushTimer: NodeJS.Timeout | undefined;
  #response: UploadResponse | undefined;

  constructor(url: string | URL, options: BufferedHttpWritableOptions = {}) {
    const resolved = resolveOptions(url, options);
    super({
      highWaterMark: resolved.highWaterMark,
      decodeStrings: false, // strings are encoded straight into the buffer
      objectMode: false,
    });
    this.#options = resolved;
    this.#bufferSize = resolved.highWaterMark;
    this.#progress = new Progress((snapshot) => this.emit('progress', snapshot));
    this.#transport = createTransport(resolved, {
      progress: this.#progress,
      response: (response) => {
        this.#response = response;
        this.emit('response', response);
      },
      batch: (report) => this.emit('batch', report),
      // destroy() on a destroyed stream does nothing, so a late failure is dropped.
      fail: (error) => this.destroy(error),
    });
    // One buffer filling while the transport holds as many as it may send at once.
    this.#pool = new BufferPool(this.#bufferSize, this.#transport.maxInFlight + 1);
    // Not passed to super(): an already aborted signal destroys at once, and
    // _destroy needs the fields above. Aborting destroys with Node's AbortError.
    if (resolved.signal) addAbortSignal(resolved.signal, this);
  }

  /**
   * tus: asks the server how much of an upload it holds, to resume it in a new
   * writable given `uploadUrl`: `createReadStream(path, { start: offset })`.
   */
  static tusOffset(uploadUrl: string | URL, options?: FetchTusOffsetOptions): Promise<TusOffset> {
    return fetchTusOffset(uploadUrl, options);
  }

  /** Bytes accepted by `write()`. */
  get bytesWritten(): number {
    return this.#progress.bytesWritten;
  }

  /** Bytes handed to the socket: an upper bound on what the server has received. */
  get bytesSent(): number {
    return this.#progress.bytesSent;
  }

  /** Bytes the server confirmed with a 2xx (stream mode: 0 until the final answer). */
  get bytesAcknowledged(): number {
    return this.#progress.bytesAcknowledged;
  }

  /** The server's final answer (batch: the last acknowledged batch's), once there is one. */
  get response(): UploadResponse | undefined {
    return this.#response;
  }

  /** tus: the upload URL, once created (or as given). */
  get uploadUrl(): string | undefined {
    return this.#progress.uploadUrl;
  }

  /** The figures of the next `'progress'` event, now. */
  get progress(): ProgressSnapshot {
    return this.#progress.snapshot();
  }

  /**
   * Sends the partly filled buffer now, after everything written before this
   * call. Resolves when the transport has let go of every buffer sent so far:
   * stream mode, handed to the socket; batch and tus, acknowledged.
   */
  flush(): Promise<void> {
    if (this.destroyed) {
      return Promise.reject(this.errored ?? new Error('flush() after the stream was destroyed'));
    }
    if (this.writableEnded) return finished(this);
    return new Promise((resolve, reject) => {
      this.#flushWaiters.push({ resolve, reject });
      this.write(FLUSH_MARKER);
    });
  }

  override _write(chunk: Chunk, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
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

  override _writev(chunks: Array<{ chunk: Chunk; encoding: BufferEncoding }>, callback: (error?: Error | null) => void): void {
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

  override _final(callback: (error?: Error | null) => void): void {
    this.#clearFlushTimer();
    const finish = async (): Promise<void> => {
      const { contentLength } = this.#options;
      const written = this.#progress.bytesWritten;
      if (contentLength !== undefined && !this.#transport.checksTotalLength && written !== contentLength) {
        throw new ContentLengthError(contentLength, written, this.#progress.snapshot());
      }
      await this.#dispatchCurrent();
      await this.#transport.end(written);
    };
    finish().then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#clearFlushTimer();
    this.#transport.abort();
    this.#slotWaiter?.();
    const reason = error ?? new Error('Stream destroyed before flush() completed');
    for (const waiter of this.#flushWaiters.splice(0)) waiter.reject(reason);
    callback(error);
  }

  /** Takes one chunk; returns a promise only when it had to wait for a transport slot. */
  #append(chunk: Chunk, encoding: BufferEncoding): void | Promise<void> {
    if (chunk === FLUSH_MARKER) return this.#flushCurrent();
    if (typeof chunk === 'string') {
      if (this.#tryWriteString(chunk, encoding)) return;
      chunk = Buffer.from(chunk, encoding);
    }
    this.#count(chunk.length);
    const room = this.#bufferSize - this.#filled;
    if (chunk.length < room) {
      this.#copy(chunk, 0, chunk.length);
      return;
    }
    if (chunk.length === room) {
      this.#copy(chunk, 0, chunk.length);
      return this.#dispatchCurrent();
    }
    return this.#appendOverflowing(chunk);
  }

  /** Hot path for strings: encode straight into the buffer when the result surely fits. */
  #tryWriteString(text: string, encoding: BufferEncoding): boolean {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit; other encodings are measured.
    const room = this.#bufferSize - this.#filled;
    const fits = encoding === 'utf8' || encoding === 'utf-8' ? text.length * 3 < room : false;
    if (!fits) return false;
    const buffer = this.#currentBuffer();
    const length = buffer.write(text, this.#filled, encoding);
    this.#count(length);
    this.#startFlushTimer();
    this.#filled += length;
    return true;
  }

  /** A chunk that does not fit in the room left: send what is buffered, then the chunk. */
  async #appendOverflowing(chunk: Buffer): Promise<void> {
    if (this.#passesThrough(chunk.length)) {
      // Large writes are not copied (invariant 4): what was buffered goes
      // first, then the chunk itself, held until the transport lets go of it.
      await this.#dispatchCurrent();
      await this.#sendUncopied(chunk);
      return;
    }
    let copied = 0;
    if (!this.#transport.keepsWritesWhole) {
      copied = this.#bufferSize - this.#filled;
      this.#copy(chunk, 0, copied);
    }
    await this.#dispatchCurrent();
    this.#copy(chunk, copied, chunk.length);
  }

  /**
   * Whether a chunk goes to the transport as it is (invariant 4): one that
   * cannot fit in a buffer. A chunk of exactly a buffer's size is copied: in
   * W1 with 1 MiB reads, copying was faster than lending the chunk until the
   * socket took it. A copy lets the producer's buffer go at once; lent ones
   * stay alive longer, the allocator hands out fresh pages more often, and the
   * page faults cost more than the copy (1 GiB: 35k vs 60k faults; BENCHMARKS.md).
   */
  #passesThrough(length: number): boolean {
    return length > this.#bufferSize;
  }

  #count(length: number): void {
    const { contentLength } = this.#options;
    const total = this.#progress.bytesWritten + length;
    if (contentLength !== undefined && total > contentLength) {
      // Checked before the bytes reach a buffer: nothing past the declared length goes on the wire.
      throw new ContentLengthError(contentLength, total, this.#progress.snapshot());
    }
    this.#progress.bytesWritten = total;
  }

  #currentBuffer(): Buffer {
    if (this.#current === undefined) this.#current = this.#pool.acquire();
    return this.#current;
  }

  #copy(source: Buffer, from: number, to: number): void {
    if (to <= from) return;
    const buffer = this.#currentBuffer();
    this.#startFlushTimer();
    if (from === 0 && to === source.length && to <= SMALL_COPY) {
      // TypedArray#set skips Buffer#copy's argument handling: it matters for millions of tiny records.
      buffer.set(source, this.#filled);
      this.#filled += to;
      return;
    }
    this.#filled += source.copy(buffer, this.#filled, from, to);
  }

  /** Sends the current buffer once a slot is free; resolves when it has been handed over. */
  #dispatchCurrent(): void | Promise<void> {
    if (this.#filled === 0) return;
    if (this.#inFlight >= this.#transport.maxInFlight) {
      return this.#slotFree().then(() => this.#dispatchCurrent());
    }
    const buffer = this.#current!;
    const bytes = buffer.subarray(0, this.#filled);
    this.#current = undefined;
    this.#filled = 0;
    this.#clearFlushTimer();
    this.#send(bytes, () => this.#pool.release(buffer));
  }

  async #sendUncopied(chunk: Buffer): Promise<void> {
    while (this.#inFlight >= this.#transport.maxInFlight) await this.#slotFree();
    await this.#send(chunk);
  }

  /**
   * Hands bytes to the transport; resolves when it lets go of them. `release`
   * runs before a waiting writer wakes, so the writer finds the buffer free.
   */
  #send(bytes: Buffer, release?: () => void): Promise<void> {
    const info = { sequence: this.#sequence++, offset: this.#dispatched };
    this.#dispatched += bytes.length;
    this.#inFlight++;
    const sent = this.#transport.send(bytes, info);
    this.#pendingSends.add(sent);
    const settle = (): void => {
      this.#inFlight--;
      this.#pendingSends.delete(sent);
      const wake = this.#slotWaiter;
      this.#slotWaiter = undefined;
      wake?.();
    };
    sent.then(
      () => {
        release?.();
        settle();
      },
      (error: Error) => {
        // A failed send ends the upload; its buffer is never reused.
        if (!this.destroyed) this.destroy(error);
        settle();
      },
    );
    return sent;
  }

  /** Resolves when a send settles or the stream is destroyed; rejects in the latter case. */
  #slotFree(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#slotWaiter = () => {
        if (this.destroyed) reject(this.errored ?? new Error('Stream destroyed while waiting to send'));
        else resolve();
      };
    });
  }

  /** `flush()`: dispatch what is buffered, then settle the caller once every send so far has. */
  #flushCurrent(): void | Promise<void> {
    // flush() queues its waiter before it writes the marker, and only flush() writes it.
    const waiter = this.#flushWaiters.shift()!;
    const settle = (): void => {
      Promise.all(this.#pendingSends).then(() => waiter.resolve(), waiter.reject);
    };
    const dispatched = this.#dispatchCurrent();
    if (!dispatched) {
      settle();
      return;
    }
    // A destroy or failure while waiting for the slot must settle flush() too, not leave it pending.
    return dispatched.then(settle, (error: Error) => {
      waiter.reject(error);
      throw error;
    });
  }

  #startFlushTimer(): void {
    const interval = this.#options.flushInterval;
    if (interval === undefined || this.#filled !== 0 || this.#flushTimer) return;
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = undefined;
      // _final and _destroy clear the timer; between end() and _final, flush() waits for 'finish'.
      this.flush().catch(() => {});
    }, interval);
  }

  #clearFlushTimer(): void {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
  }
}

/** Typed events, merged into the class declaration (as @types/node does for its streams). */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export interface BufferedHttpWritable {
  on(event: 'progress', listener: (progress: ProgressSnapshot) => void): this;
  on(event: 'response', listener: (response: UploadResponse) => void): this;
  on(event: 'batch', listener: (report: BatchReport) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this; // eslint-disable-line @typescript-eslint/no-explicit-any
  once(event: 'progress', listener: (progress: ProgressSnapshot) => void): this;
  once(event: 'response', listener: (response: UploadResponse) => void): this;
  once(event: 'batch', listener: (report: BatchReport) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this; // eslint-disable-line @typescript-eslint/no-explicit-any
}
