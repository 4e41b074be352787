import { addAbortSignal, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { addPosition, ContentLengthError } from '../errors.js';
import type { TransportFactory } from '../modes/transport.js';
import type { UploadContext } from '../upload-context.js';
import type { BatchReport, ProgressSnapshot, SpoolOpened, TusChecksum, UploadResponse } from '../types.js';
import {
  FLUSH_MARKER,
  type Chunk,
  type Filler,
  type FillerContext,
  type FillerFactory,
  type FlushPoint,
  type WriteCallback,
  type WrittenChunk,
} from './filler.js';
import { UploadSession, type SessionOptions } from './session.js';
import { WriteFiller } from './write-filler.js';

/** The options the Writable core reads; the mode's own options pass through it to the transport. */
export interface CoreOptions extends SessionOptions {
  contentLength?: number;
  flushInterval?: number;
  signal?: AbortSignal;
}

/**
 * Queued in place of a write the filler can never take: its callback, run
 * once every write before it was taken, refuses that write.
 */
const REFUSED_MARKER = Buffer.alloc(0);

/** `end()`'s callback: Node calls it with the stream's error when it ends in one. */
type EndCallback = (error?: Error | null) => void;

interface Deferred {
  resolve(): void;
  reject(error: Error): void;
}

/**
 * A `stream.Writable` that hands what is written to a filler (plain writes:
 * copied into the pool's fixed buffers; a mode may bring another, as batch
 * does with a spool), which hands buffers to an upload session, which sends
 * them through a transport it is given (this file imports none).
 *
 * This class owns the stream: its queue, lifecycle and `flush()` callers; it
 * knows nothing of HTTP. Backpressure is the withheld `_write` callback.
 * A failure reaches it by one route: the session's `failed` destroys it.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- typed event overloads below
export class BufferedWritableCore<Options extends CoreOptions = CoreOptions> extends Writable {
  readonly #options: Options;
  readonly #session: UploadSession<Options>;
  /** Given by the mode when writes do not go straight into the pool; opened by `construct`. */
  readonly #factory: FillerFactory | undefined;
  /** Where written bytes go; undefined until the factory's filler is open. */
  #filler: Filler | undefined;
  /** flush() calls whose marker is still in the stream's queue, oldest first. */
  readonly #flushWaiters: Deferred[] = [];
  /** flush() calls past their marker, waiting for the sends before them to settle. */
  readonly #flushSettling = new Set<Deferred>();
  /**
   * Set once a write the filler can never take was refused: the callbacks of
   * the writes after it, answered with its error once the writes before it
   * were taken (then the stream errors with it).
   */
  #laterWrites: WriteCallback[] | undefined;

  constructor(options: Options, context: UploadContext, createTransport: TransportFactory<Options>, factory?: FillerFactory) {
    super({
      highWaterMark: options.highWaterMark,
      decodeStrings: false, // strings are encoded straight into the buffer
      objectMode: false,
      // Writes wait until the transport is made and the filler is open (a spool: and locked).
      construct: BufferedWritableCore.#open,
    });
    this.#options = options;
    this.#factory = factory;
    this.#session = new UploadSession(options, context, createTransport, {
      progress: (snapshot) => this.emit('progress', snapshot),
      response: (response) => this.emit('response', response),
      batch: (report) => this.emit('batch', report),
      spool: (opened) => this.emit('spool', opened),
      failed: (error) => this.destroy(error),
    });
    // Not passed to super(): an already aborted signal destroys at once, and
    // _destroy needs the fields above. Aborting destroys with Node's AbortError.
    if (options.signal) addAbortSignal(options.signal, this);
  }

  /** Bytes accepted by `write()`. */
  get bytesWritten(): number {
    return this.#session.bytesWritten;
  }

  /** Bytes handed to the socket: an upper bound on what the server has received. */
  get bytesSent(): number {
    return this.#session.progress().bytesSent;
  }

  /** Bytes the server confirmed with a 2xx (stream mode: 0 until the final answer). */
  get bytesAcknowledged(): number {
    return this.#session.progress().bytesAcknowledged;
  }

  /** The server's final answer (batch: the last acknowledged batch's), once there is one. */
  get response(): UploadResponse | undefined {
    return this.#session.response;
  }

  /** tus: the upload URL, once created (or as given), without credentials. */
  get uploadUrl(): string | undefined {
    return this.#session.uploadUrlText;
  }

  /** tus with `digest`: whether the server verifies each PATCH (`Upload-Checksum`), once known; undefined otherwise. */
  get checksum(): TusChecksum | undefined {
    return this.#session.progress().checksum;
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
    return this.#session.progress();
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
   * A write the filler can never take (a spool: a record larger than it can
   * ever hold) is refused at its own write: the writes before it are taken
   * and confirmed as usual (they may share one `_writev`, whose callback is
   * all or nothing, so the refused write never joins them), then this
   * write's callback gets the filler's error (SpoolRecordTooLargeError) and
   * the stream errors with it. Later writes get the same error.
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
      const error = failure ?? this.#factory!.refusal!(chunk as string | Uint8Array, encoding ?? 'utf8', this.#session.progress())!;
      for (const waiting of [callback, ...laterWrites]) waiting?.(error);
      if (!failure) this.destroy(error);
    });
    return false;
  }

  /** `end(chunk)` with a chunk the filler can never take: refused through `write()`, like any other write. */
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

  /** Whether the filler refuses this write: it can never take it, or a write before it was refused (after end or destroy, Node answers). */
  #refuses(chunk: unknown, encoding: BufferEncoding | undefined): boolean {
    const factory = this.#factory;
    if (factory?.refusal === undefined || this.writableEnded || this.destroyed) return false;
    if (this.#laterWrites) return true;
    if (typeof chunk !== 'string' && !(chunk instanceof Uint8Array)) return false;
    return factory.refusal(chunk, encoding ?? 'utf8') !== undefined;
  }

  override _write(chunk: Chunk, encoding: BufferEncoding, callback: WriteCallback): void {
    this.#filler!.write(chunk, encoding, callback);
  }

  override _writev(chunks: WrittenChunk[], callback: WriteCallback): void {
    this.#filler!.writev(chunks, callback);
  }

  override _final(callback: WriteCallback): void {
    const finish = async (): Promise<void> => {
      const { contentLength } = this.#options;
      const written = this.#session.bytesWritten;
      if (contentLength !== undefined && !this.#session.transport.checksTotalLength && written !== contentLength) {
        throw new ContentLengthError(contentLength, written, this.#session.progress());
      }
      await this.#filler!.finish();
      await this.#session.end();
    };
    // A failure of the upload destroys the stream through the session; only
    // our own errors (content length, a destroyed stream) come back here.
    finish().then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: WriteCallback): void {
    const reason = error ?? Object.assign(new Error('The stream was destroyed before the upload finished'), { code: 'ERR_STREAM_DESTROYED' });
    // An abort, or the caller's own error, says where the upload stands as the library's errors do (tus: uploadUrl, offset).
    if (error) addPosition(error, this.#session.position());
    this.#session.abort(reason);
    for (const waiter of [...this.#flushWaiters.splice(0), ...this.#flushSettling]) waiter.reject(reason);
    this.#flushSettling.clear();
    // Destroyed before the filler opened: nothing to stop.
    const stopped = this.#filler?.stop(error);
    if (!stopped) {
      callback(error);
      return;
    }
    // What the filler keeps (a spool's data) stays; the error says where.
    stopped.then(
      (details) => {
        if (error && details) Object.assign(error, details);
        callback(error);
      },
      () => callback(error),
    );
  }

  /** Node calls `construct` as a method of the stream, before any write reaches `_write`. */
  static #open(this: Writable, callback: WriteCallback): void {
    const core = this as BufferedWritableCore;
    core.#openFiller().then(() => {
      // As `fs.WriteStream` does once its file is open: Node hands the filler the queued writes a tick later.
      core.emit('ready');
      callback();
    }, callback);
  }

  /** Makes the transport, then the filler. */
  async #openFiller(): Promise<void> {
    await this.#session.open();
    this.#filler = this.#factory ? await this.#factory.open(this.#fillerContext()) : new WriteFiller(this.#fillerContext(), this.#options);
  }

  #fillerContext(): FillerContext {
    return {
      session: this.#session,
      reachedFlush: () => this.#reachedFlush(),
      flush: () => void this.flush().catch(() => {}),
    };
  }

  /** A filler reached a flush() marker: it belongs to the oldest waiting call (only flush() writes the marker). */
  #reachedFlush(): FlushPoint {
    const waiter = this.#flushWaiters.shift()!;
    this.#flushSettling.add(waiter);
    return {
      settled: () => {
        this.#flushSettling.delete(waiter);
        waiter.resolve();
      },
      failed: (error) => {
        this.#flushSettling.delete(waiter);
        waiter.reject(error);
      },
    };
  }
}

/** Typed events, merged into the class declaration (as @types/node does for its streams). */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export interface BufferedWritableCore {
  on(event: 'progress', listener: (progress: ProgressSnapshot) => void): this;
  on(event: 'response', listener: (response: UploadResponse) => void): this;
  on(event: 'batch', listener: (report: BatchReport) => void): this;
  on(event: 'spool', listener: (opened: SpoolOpened) => void): this;
  on(event: 'ready', listener: () => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this; // eslint-disable-line @typescript-eslint/no-explicit-any
  once(event: 'progress', listener: (progress: ProgressSnapshot) => void): this;
  once(event: 'response', listener: (response: UploadResponse) => void): this;
  once(event: 'batch', listener: (report: BatchReport) => void): this;
  once(event: 'spool', listener: (opened: SpoolOpened) => void): this;
  once(event: 'ready', listener: () => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this; // eslint-disable-line @typescript-eslint/no-explicit-any
}
