import type { ProgressSnapshot } from '../types.js';
import type { UploadSession } from './session.js';

export type Chunk = Buffer | string;
export type WriteCallback = (error?: Error | null) => void;

/** One chunk as Node hands it to `_write`/`_writev`. */
export interface WrittenChunk {
  chunk: Chunk;
  encoding: BufferEncoding;
}

/**
 * Written through the stream's own queue by `flush()`, so a flush lands after
 * every earlier write. A filler that meets it asks `reachedFlush()` for the
 * caller to settle.
 */
export const FLUSH_MARKER = Buffer.alloc(0);

/** A `flush()` call whose marker a filler has reached: settle it once every send before it is let go of. */
export interface FlushPoint {
  settled(): void;
  failed(error: Error): void;
}

/** What the Writable gives a filler. */
export interface FillerContext {
  readonly session: UploadSession;
  /** The filler met a FLUSH_MARKER: the `flush()` call it belongs to, oldest first. */
  reachedFlush(): FlushPoint;
  /** Sends what is buffered, after every write queued before (the flushInterval timer of plain writes). */
  flush(): void;
}

/**
 * One source of bytes between the Writable and the session: plain writes
 * copied into the pool's buffers, or a spool on disk that batches are read
 * back from. The Writable owns the stream (queue, lifecycle, flush() callers);
 * the filler decides where written bytes go and when a buffer is sent.
 */
export interface Filler {
  /** Takes one chunk; `callback` runs once it is taken (withheld: backpressure). */
  write(chunk: Chunk, encoding: BufferEncoding, callback: WriteCallback): void;
  /** Takes every chunk queued meanwhile, FLUSH_MARKERs included, in order. */
  writev(chunks: WrittenChunk[], callback: WriteCallback): void;
  /** No more writes: resolves once everything taken has been handed to the session. */
  finish(): Promise<void>;
  /**
   * The stream was destroyed: let go of everything. May resolve with fields
   * the error should carry (a spool: where its data stays).
   */
  stop(error: Error | null): Promise<Record<string, unknown> | undefined> | undefined;
}

/** A filler other than plain writes, chosen by the mode (batch with a spool); the Writable imports none. */
export interface FillerFactory {
  /** Runs before the first write reaches the filler (the spool: open and lock). */
  open(context: FillerContext): Promise<Filler>;
  /** A write this filler can never take, refused at its own write: the error, or undefined. Asked before `open` has finished too. */
  refusal?(chunk: string | Uint8Array, encoding: BufferEncoding, progress?: ProgressSnapshot): Error | undefined;
}
