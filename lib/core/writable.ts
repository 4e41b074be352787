import { addAbortSignal, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { ContentLengthError } from '../errors.js';

import type { Progress } from './progress.js';
import { CUT, SpoolIntake, type SpoolRecord } from '../modes/batch/spool/intake.js';
import { refuseRecord } from '../modes/batch/spool/index.js';
import type { TransportFactory } from '../modes/transport.js';
import { UploadSession, type SessionOptions } from './session.js';
import type { UploadContext } from '../upload-context.js';
import type { BatchReport, ProgressSnapshot, SpoolSettings, UploadResponse } from '../types.js';

type Chunk = Buffer | string;

/** The options the Writable core reads; the mode's own options pass through it to the transport. */
export interface CoreOptions extends SessionOptions {
  contentLength?: number;
  flushInterval?: number;
  signal?: AbortSignal;
  /** batch: records go through a spool on disk (modes/batch/spool/intake.ts) instead of straight into the pool. */
  spool?: Required<SpoolSettings>;
}

/** Written through the stream's own queue by `flush()`, so a flush lands after every earlier write. */
const FLUSH_MARKER = Buffer.alloc(0);

/**
 * Queued in place of a record the spool can never hold: its callback, run
 * once every write before it is on disk, refuses that write.
 */
const REFUSED_MARKER = Buffer.alloc(0);

/** Chunks up to this size are copied with TypedArray#set (measured faster for small records). */
const SMALL_COPY = 512;

type WriteCallback = (error: Error | null | undefined) => void;
/** `end()`'s callback: Node calls it with the stream's error when it ends in one. */
type EndCallback = (error?: Error | null) => void;

interface Deferred {
  resolve(): void;
  reject(error: Error): void;
}

/**
 * A `stream.Writable` that copies what is written into fixed, preallocated
 * buffers and hands each full buffer to an upload session, which sends it
 * through a transport it is given (this file imports none).
 *
 * This class owns buffering, backpressure and the stream lifecycle and knows
 * nothing of HTTP. Backpressure is the withheld `_write` callback: a full
 * buffer waits for a free transport slot, so memory stays at
 * `highWaterMark × (slots + 1)` whatever the producer or the server does.
 * A failure reaches it by one route: the session's `failed` destroys it.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- typed event overloads below
export class BufferedWritableCore<Options extends CoreOptions = CoreOptions> extends Writable {
  readonly #options: Options;
  readonly #session: UploadSession<Options>;
  readonly #counters: Progress;
  readonly #bufferSize: number;
  /** The buffer being filled, taken from the pool when the first byte arrives. */
  #current: Buffer | undefined;
  #filled = 0;
  /** Records kept whole (batch): the length of each write in the current buffer, so a refused batch can be split between writes. */
  #records: number[] | undefined;
  /** flush() calls whose marker is still in the stream's queue, oldest first. */
  readonly #flushWaiters: Deferred[] = [];
  /** flush() calls past their marker, waiting for the sends before them to settle. */
  readonly #flushSettling = new Set<Deferred>();
  #flushTimer: NodeJS.Timeout | undefined;
  /** batch with a spool: where written records go instead of the pool. */
  #spool: SpoolIntake | undefined;
  /**
   * Set once a write the spool can never hold was refused: the callbacks of
   * the writes after it, answered with its error once the writes before it
   * are on disk (then the stream errors with it).
   */
  #laterWrites: WriteCallback[] | undefined;

  constructor(options: Options, context: UploadContext, createTransport: TransportFactory<Options>) {
    super({
      highWaterMark: options.highWaterMark,
      decodeStrings: false, // strings are encoded straight into the buffer
      objectMode: false,
      // Writes wait until the spool is open (and locked); without one there is nothing to wait for.
      ...(options.spool ? { construct: BufferedWritableCore.#constructSpool } : {}),
    });
    this.#options = options;
    this.#bufferSize = options.highWaterMark;
    this.#session = new UploadSession(options, context, createTransport, {
      progress: (snapshot) => this.emit('progress', snapshot),
      response: (response) => this.emit('response', response),
      batch: (report) => this.emit('batch', report),
      failed: (error) => this.destroy(error),
    });
    this.#counters = this.#session.counters;
    if (this.#session.transport.keepsWritesWhole) this.#records = [];
    // Not passed to super(): an already aborted signal destroys at once, and
    // _destroy needs the fields above. Aborting destroys with Node's AbortError.
    if (options.signal) addAbortSignal(options.signal, this);
  }

  /** Bytes accepted by `write()`. */
  get bytesWritten(): number {
    return this.#counters.bytesWritten;
  }

  /** Bytes handed to the socket: an upper bound on what the server has received. */
  get bytesSent(): number {
    return this.#session.snapshot().bytesSent;
  }

  /** Bytes the server confirmed with a 2xx (stream mode: 0 until the final answer). */
  get bytesAcknowledged(): number {
    return this.#session.snapshot().bytesAcknowledged;
  }

  /** The server's final answer (batch: the last acknowledged batch's), once there is one. */
  get response(): UploadResponse | undefined {
    return this.#session.response;
  }

  /** tus: the upload URL, once created (or as given), without credentials. */
  get uploadUrl(): string | undefined {
    return this.#session.uploadUrlText;
  }

  /** Requests in flight allowed now (batch `'auto'`: the adaptive limit); 1 in stream and tus. */
  get concurrency(): number {
    return this.#session.concurrency;
  }

  /**
   * True while the upload waits on the network rather than on its producer:
   * a buffer the transport still holds (stream: not yet taken whole by the
   * socket; batch and tus: not yet answered), or, after `end()`, the final
   * answer. False while the upload only waits for more writes, and once it
   * finished or failed. For a watchdog: no progress while this is true is a
   * stall; the counters cannot tell, as `bytesSent` counts a buffer when it
   * is handed over.
   */
  get waitingOnNetwork(): boolean {
    // After end() nothing more comes from the producer: what is left is sent and answered.
    const ending = this.writableEnded && !this.writableFinished && !this.destroyed;
    return ending || this.#session.waitingOnNetwork;
  }

  /** The figures of the next `'progress'` event, now. */
  get progress(): ProgressSnapshot {
    return this.#session.snapshot();
  }

  /**
   * Sends the partly filled buffer now, after everything written before this
   * call. Resolves when the transport has let go of every buffer sent so far:
   * stream mode, handed to the socket; batch and tus, acknowledged.
   */
  flush(): Promise<void> {
    if (this.destroyed) {
      return Promise.reject(this.errored ?? Object.assign(new Error('flush() after the stream was destroyed'), { code: 'ERR_STREAM_DESTROYED' }));
    }
    if (this.writableEnded) return finished(this);
    return new Promise((resolve, reject) => {
      this.#flushWaiters.push({ resolve, reject });
      this.write(FLUSH_MARKER);
    });
  }

  /**
   * With a spool, a record larger than it can ever hold is refused at its own
   * write: the writes before it are appended and confirmed as usual (they
   * may share one `_writev`, whose callback is all or nothing, so the record
   * never joins them), then this write's callback gets a
   * SpoolRecordTooLargeError and the stream errors with it. Later writes
   * get the same error.
   */
  override write(chunk: unknown, encoding?: BufferEncoding | WriteCallback, callback?: WriteCallback): boolean {
    if (typeof encoding === 'function') {
      callback = encoding;
      encoding = undefined;
    }
    if (!this.#refuses(chunk, encoding)) return super.write(chunk, encoding as BufferEncoding, callback);
    if (this.#laterWrites) {
      if (callback) this.#laterWrites.push(callback);
      return false;
    }
    const laterWrites: WriteCallback[] = (this.#laterWrites = []);
    super.write(REFUSED_MARKER, (failure) => {
      // A failure of the writes before it errored the stream already; otherwise this refusal does, with the counters of now.
      const error = failure ?? refuseRecord(chunk as string | Uint8Array, encoding ?? 'utf8', this.#options.spool!.maxBytes, this.#session.snapshot())!;
      for (const waiting of [callback, ...laterWrites]) waiting?.(error);
      if (!failure) this.destroy(error);
    });
    return false;
  }

  /** `end(chunk)` with a chunk the spool can never hold: refused through `write()`, like any other write. */
  override end(chunk?: unknown, encoding?: BufferEncoding | EndCallback, callback?: EndCallback): this {
    if (typeof encoding === 'function') {
      callback = encoding;
      encoding = undefined;
    }
    if (typeof chunk === 'function' || chunk === undefined || chunk === null || !this.#refuses(chunk, encoding)) {
      return super.end(chunk as () => void, encoding as BufferEncoding, callback as () => void);
    }
    this.write(chunk, encoding);
    return super.end(callback as () => void);
  }

  /** Whether the spool refuses this write: it can never hold it, or a write before it was refused (after end or destroy, Node answers). */
  #refuses(chunk: unknown, encoding: BufferEncoding | undefined): boolean {
    const spool = this.#options.spool;
    if (spool === undefined || this.writableEnded || this.destroyed) return false;
    if (this.#laterWrites) return true;
    if (typeof chunk !== 'string' && !(chunk instanceof Uint8Array)) return false;
    return refuseRecord(chunk, encoding ?? 'utf8', spool.maxBytes) !== undefined;
  }

  override _write(chunk: Chunk, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.#spool) {
      this.#appendToSpool([{ chunk, encoding }], callback);
      return;
    }
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
    if (this.#spool) {
      // Group commit: everything queued meanwhile is one append (and one sync).
      this.#appendToSpool(chunks, callback);
      return;
    }
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
      const written = this.#counters.bytesWritten;
      if (contentLength !== undefined && !this.#session.transport.checksTotalLength && written !== contentLength) {
        throw new ContentLengthError(contentLength, written, this.#session.snapshot());
      }
      if (this.#spool) await this.#spool.finish();
      else await this.#dispatchCurrent(true);
      await this.#session.end();
    };
    // A failure of the upload destroys the stream through the session; only
    // our own errors (content length, a destroyed stream) come back here.
    finish().then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#clearFlushTimer();
    const reason = error ?? Object.assign(new Error('The stream was destroyed before the upload finished'), { code: 'ERR_STREAM_DESTROYED' });
    this.#session.abort(reason);
    for (const waiter of [...this.#flushWaiters.splice(0), ...this.#flushSettling]) waiter.reject(reason);
    this.#flushSettling.clear();
    if (!this.#spool) {
      callback(error);
      return;
    }
    // The data stays in the spool; the error says how much and where (and where a refused batch went).
    this.#spool.stop(error).then(
      (state) => {
        if (error) Object.assign(error, { spool: state });
        callback(error);
      },
      () => callback(error),
    );
  }

  /** Node calls `construct` as a method of the stream, before any write reaches `_write`. */
  static #constructSpool(this: Writable, callback: (error?: Error | null) => void): void {
    (this as BufferedWritableCore).#openSpool(callback);
  }

  #openSpool(callback: (error?: Error | null) => void): void {
    SpoolIntake.open(this.#session, this.#options.spool!, this.#options.flushInterval).then((intake) => {
      this.#spool = intake;
      callback();
    }, callback);
  }

  /** Spool mode: the chunks become records (a flush() marker a batch boundary), appended at once. */
  #appendToSpool(chunks: Array<{ chunk: Chunk; encoding: BufferEncoding }>, callback: (error?: Error | null) => void): void {
    const records: SpoolRecord[] = [];
    const flushes: Deferred[] = [];
    for (const { chunk, encoding } of chunks) {
      if (chunk === FLUSH_MARKER) {
        records.push(CUT);
        const waiter = this.#flushWaiters.shift()!;
        this.#flushSettling.add(waiter);
        flushes.push(waiter);
      } else if (chunk.length === 0) {
        continue;
      } else if (typeof chunk !== 'string' || encoding === 'utf8' || encoding === 'utf-8') {
        // UTF-8 strings are encoded by the spool, straight into the group it writes.
        records.push(chunk);
      } else {
        records.push(Buffer.from(chunk, encoding));
      }
    }
    const spool = this.#spool!;
    spool.append(records).then((bytes) => {
      this.#counters.bytesWritten += bytes;
      callback();
      if (flushes.length === 0) return;
      // flush(): every batch up to the boundary is acknowledged (destroy rejects the waiters instead).
      void spool.drain().then(() => {
        for (const waiter of flushes) {
          this.#flushSettling.delete(waiter);
          waiter.resolve();
        }
      });
    }, callback);
  }

  /** Takes one chunk; returns a promise only when it had to wait for a transport slot. */
  #append(chunk: Chunk, encoding: BufferEncoding): void | Promise<void> {
    if (chunk === FLUSH_MARKER) return this.#flushCurrent();
    if (typeof chunk === 'string') {
      if (this.#tryWriteString(chunk, encoding)) return this.#dispatchIfFull();
      chunk = Buffer.from(chunk, encoding);
    }
    this.#count(chunk.length);
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
    this.#startFlushTimer();
    this.#filled += length;
    return true;
  }

  /** A chunk that does not fit in the room left: send what is buffered, then the chunk. */
  async #appendOverflowing(chunk: Buffer): Promise<void> {
    if (this.#passesThrough(chunk.length)) {
      // Large writes are not copied: what was buffered goes first, then the
      // chunk itself, held until the transport lets go of it.
      await this.#dispatchCurrent(false);
      await this.#sendUncopied(chunk);
      return;
    }
    let copied = 0;
    if (!this.#session.transport.keepsWritesWhole) {
      copied = this.#bufferSize - this.#filled;
      this.#copy(chunk, 0, copied);
    }
    await this.#dispatchCurrent(false);
    this.#copy(chunk, copied, chunk.length);
    this.#records?.push(chunk.length);
    // A chunk that fills the fresh buffer exactly goes now: a full buffer never waits for the next write.
    await this.#dispatchIfFull();
  }

  /**
   * Whether a chunk goes to the transport as it is: one that cannot fit in a
   * buffer. A chunk of exactly a buffer's size is copied: in W1 with 1 MiB
   * reads, copying was faster than lending the chunk until the socket took
   * it. A copy lets the producer's buffer go at once; lent ones stay alive
   * longer, the allocator hands out fresh pages more often, and the page
   * faults cost more than the copy (1 GiB: 35k vs 60k faults; BENCHMARKS.md).
   */
  #passesThrough(length: number): boolean {
    return length > this.#bufferSize;
  }

  #count(length: number): void {
    const { contentLength } = this.#options;
    const total = this.#counters.bytesWritten + length;
    if (contentLength !== undefined && total > contentLength) {
      // Checked before the bytes reach a buffer: nothing past the declared length goes on the wire.
      throw new ContentLengthError(contentLength, total, this.#session.snapshot());
    }
    this.#counters.bytesWritten = total;
  }

  #currentBuffer(): Buffer {
    if (this.#current === undefined) this.#current = this.#session.pool.acquire();
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
    this.#clearFlushTimer();
    const records = this.#records;
    if (records) this.#records = [];
    void this.#session.send(bytes, { last, ...(records ? { records } : {}) }, () => this.#session.pool.release(buffer));
  }

  async #sendUncopied(chunk: Buffer): Promise<void> {
    while (!this.#session.hasFreeSlot) await this.#session.slotFree();
    await this.#session.send(chunk, { last: false, ...(this.#records ? { records: [chunk.length] } : {}) });
  }

  /** `flush()`: dispatch what is buffered, then settle the caller once every send so far has. */
  #flushCurrent(): void | Promise<void> {
    // flush() queues its waiter before it writes the marker, and only flush() writes it.
    const waiter = this.#flushWaiters.shift()!;
    this.#flushSettling.add(waiter);
    const resolve = (): void => {
      this.#flushSettling.delete(waiter);
      waiter.resolve();
    };
    // Sends only ever resolve; after a failure _destroy rejects the waiter instead.
    const settle = (): void => void (this.#session.settled()?.then(resolve) ?? resolve());
    const dispatched = this.#dispatchCurrent(false);
    if (!dispatched) {
      settle();
      return;
    }
    // A destroy or failure while waiting for the slot must settle flush() too, not leave it pending.
    return dispatched.then(settle, (error: Error) => {
      this.#flushSettling.delete(waiter);
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
export interface BufferedWritableCore {
  on(event: 'progress', listener: (progress: ProgressSnapshot) => void): this;
  on(event: 'response', listener: (response: UploadResponse) => void): this;
  on(event: 'batch', listener: (report: BatchReport) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this; // eslint-disable-line @typescript-eslint/no-explicit-any
  once(event: 'progress', listener: (progress: ProgressSnapshot) => void): this;
  once(event: 'response', listener: (response: UploadResponse) => void): this;
  once(event: 'batch', listener: (report: BatchReport) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this; // eslint-disable-line @typescript-eslint/no-explicit-any
}
