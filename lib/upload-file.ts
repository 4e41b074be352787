import { read, type BigIntStats } from 'node:fs';
import { promisify } from 'node:util';
import { open, type FileHandle } from 'node:fs/promises';
import { abortError } from './http/abort.js';
import { addPosition, asError, FileChangedError, isBufferedHttpWritableError, NO_PROGRESS, SourceReadError } from './errors.js';
import { readWhenReady, reopenPipe } from './descriptor-reads.js';
import { changedFields, fileStats } from './file-state.js';
import { resolveOptions } from './options/resolve.js';
import type { ResolvedOptions } from './options/table.js';
import { createUploadContext, type UploadContext } from './upload-context.js';
import { createTransport } from './modes/create.js';
import type { ProgressSnapshot, UploadFileOptions, UploadFilePromise, UploadFileResult } from './types.js';
import { UploadSession } from './core/session.js';
import { createDigest } from './http/digest.js';
import type { DigestAlgorithm } from './types.js';

/** How `upload` tells the promise where to look for `waitingOnNetwork` as the upload goes on. */
type WatchNetwork = (waitingOnNetwork: () => boolean) => void;

/**
 * Uploads a file: reads it with positioned reads straight into the pool's
 * fixed buffers (no allocation and no copy per read) and hands each full
 * buffer to the transport, as the Writable does with what is written.
 * Resolves once the server acknowledged the whole file; rejects with the
 * library's errors, and with `FileChangedError` if a regular file grows,
 * shrinks or is written to meanwhile (its size, timestamps and identity,
 * compared after the last read and before the last buffer goes), rather than
 * uploading a size nobody asked for or a mix of two versions.
 *
 * `source` is a path, or an open file descriptor (0 for stdin), left open: a
 * regular file behind it is read from its start with positioned reads
 * (whatever its current position), a pipe or socket as it comes, without a
 * declared size, however slow its writer (see descriptor-reads.ts). A failed
 * read is a `SourceReadError` with the upload's figures. In tus mode with `uploadUrl`, the server's offset
 * is asked first (unless `resumeFrom` gives it) and the file is read on from there;
 * the transport starts from that answer, so a resume costs one `HEAD`.
 */
export function uploadFile(source: string | number, url: string | URL, options: UploadFileOptions = {}): UploadFilePromise {
  let waitingOnNetwork = (): boolean => false;
  const result = upload(source, url, options, (query) => (waitingOnNetwork = query));
  const settled = (): void => {
    waitingOnNetwork = () => false;
  };
  // Its own branch, which never rejects: the caller handles the promise returned.
  result.then(settled, settled);
  return Object.defineProperty(result, 'waitingOnNetwork', { get: () => waitingOnNetwork() }) as UploadFilePromise;
}

/** The work of `uploadFile`; `watch` points the promise's `waitingOnNetwork` at what answers it at each stage. */
async function upload(source: string | number, url: string | URL, options: UploadFileOptions, watch: WatchNetwork): Promise<UploadFileResult> {
  const { declareSize = true, onProgress, onBatch, onRead, ...writableOptions } = options;
  const handle = typeof source === 'number' ? undefined : await open(source, 'r');
  const name = typeof source === 'number' ? `file descriptor ${source}` : source;
  let pipe: FileHandle | undefined;
  let reader: FileReader | undefined;
  try {
    const stats = await fileStats(handle?.fd ?? (source as number));
    const regular = stats.isFile() ? stats : undefined;
    if (typeof source === 'number' && !regular) pipe = await reopenPipe(source);
    const fd = pipe?.fd ?? handle?.fd ?? (source as number);
    const size = regular && Number(regular.size);
    const resolved = resolveOptions(url, writableOptions);
    const context = createUploadContext(resolved);
    let start = 0;
    if (resolved.mode === 'tus' && resolved.uploadUrl !== undefined && size !== undefined) {
      // Asked once: the transport starts from the same answer instead of its own HEAD.
      if (resolved.resumeFrom === undefined) watch(() => true);
      // The mode's code is loaded on first use (lib/modes/create.ts says why).
      const { askTusOffset } = await import('./modes/tus/protocol.js');
      resolved.resumeFrom ??= await askTusOffset(resolved.uploadUrl, {
        got: context.got,
        headers: resolved.headers,
        retry: resolved.retry,
        signal: resolved.signal,
      });
      start = resolved.resumeFrom.offset;
      if (start > size) throw new FileChangedError(name, size, start, { bytesWritten: 0, bytesSent: 0, bytesAcknowledged: 0 });
    }
    if ('stateFile' in resolved && resolved.stateFile !== undefined) {
      // A multipart upload its state file records goes on after the parts the server holds (a pipe skips them).
      const { readUploadState } = await import('./modes/parts/state-file.js');
      start = (await readUploadState(resolved.stateFile))?.bytesStored ?? 0;
      if (size !== undefined && start > size) throw new FileChangedError(name, size, start, { bytesWritten: 0, bytesSent: 0, bytesAcknowledged: 0 });
    }
    if (declareSize && size !== undefined && resolved.mode !== 'batch') {
      // tus: the whole upload's length, also when resuming; stream: the bytes this request carries.
      resolved.contentLength = resolved.mode === 'tus' ? size : size - start;
      // A sized body has no trailers (HTTP/1.1): the digest goes as a header, so the file is hashed first.
      if (resolved.mode === 'stream' && resolved.digest) resolved.knownDigest = await hashFile(fd, name, start, size, resolved.digest, resolved.signal);
    }
    context.diagnostics.upload = { uploadFile: source };
    reader = new FileReader(fd, name, regular, start);
    return await run(resolved, context, reader, start, { onProgress, onBatch, onRead }, watch);
  } finally {
    await handle?.close();
    // A read of the reopened pipe may still wait for its writer: the descriptor closes once it returns.
    const reopened = pipe;
    if (reopened) void (reader?.stop() ?? Promise.resolve()).then(() => reopened.close()).catch(() => {});
  }
}

const readAt = promisify(read);
/** Bytes per read when a file is hashed before its upload. */
const HASH_READ_BYTES = 1024 * 1024;

/** The digest of a regular file's bytes [start, end), read once before the upload (the file-change checks cover what follows). */
async function hashFile(fd: number, name: string, start: number, end: number, algorithm: DigestAlgorithm, signal: AbortSignal | undefined): Promise<Buffer> {
  const hash = createDigest(algorithm);
  const buffer = Buffer.allocUnsafe(HASH_READ_BYTES);
  for (let position = start; ;) {
    if (signal?.aborted) throw abortError(signal.reason);
    let bytesRead: number;
    try {
      ({ bytesRead } = await readAt(fd, buffer, 0, Math.min(buffer.length, end - position), position));
    } catch (error) {
      throw new SourceReadError(name, asError(error), NO_PROGRESS);
    }
    if (bytesRead === 0) return hash.digest();
    hash.update(buffer.subarray(0, bytesRead));
    position += bytesRead;
  }
}

/** Feeds the session from the reader until the file ends, then waits for the final answer. */
async function run(
  options: ResolvedOptions,
  context: UploadContext,
  reader: FileReader,
  startOffset: number,
  listeners: Pick<UploadFileOptions, 'onProgress' | 'onBatch' | 'onRead'>,
  watch: WatchNetwork,
): Promise<UploadFileResult> {
  let failure: Error | undefined;
  let rejectFailure!: (error: Error) => void;
  // Every await below races this: the upload's failure (or an abort) ends the loop at once.
  const failed = new Promise<never>((_resolve, reject) => (rejectFailure = reject));
  failed.catch(() => {});
  const session = new UploadSession(options, context, createTransport, {
    progress: (snapshot) => listeners.onProgress?.(snapshot),
    response: () => {},
    batch: (report) => listeners.onBatch?.(report),
    failed: (error) => {
      failure ??= error;
      rejectFailure(error);
    },
  });
  await session.open();
  watch(() => session.waitingOnNetwork);
  const { signal } = options;
  const onAbort = (): void => {
    const reason = abortError(signal?.reason);
    addPosition(reason, session.position());
    session.abort(reason);
    rejectFailure(reason);
  };
  if (signal?.aborted) onAbort();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      while (!session.hasFreeSlot) await Promise.race([session.slotFree(), failed]);
      const buffer = session.pool.acquire();
      const filled = await Promise.race([reader.fill(buffer, session.progress()), failed]);
      const last = await Promise.race([reader.atEnd(session.progress()), failed]);
      if (filled === 0) {
        session.pool.release(buffer);
        break;
      }
      session.written(filled);
      const behind = listeners.onRead?.(buffer.subarray(0, filled));
      void session.send(buffer.subarray(0, filled), { last }, () => session.pool.release(buffer));
      // The caller's consumer of the bytes (a hasher on a worker) is behind: the next read, or the end, waits for it.
      if (behind instanceof Promise) await Promise.race([behind, failed]);
      if (last) break;
    }
    const response = await Promise.race([session.end(), failed]);
    return { ...session.progress(), response, startOffset };
  } catch (error) {
    // A read error is ours to report; the transport stops with it.
    if (!failure) session.abort(error as Error);
    throw error;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    void reader.stop();
  }
}

/**
 * Reads a file into caller-owned buffers: positioned reads for a regular
 * file (its size and state known, so a change is caught), plain reads for a
 * pipe, which has no state to compare.
 */
class FileReader {
  readonly #fd: number;
  readonly #name: string;
  /** A regular file's `fstat` when the upload started. */
  readonly #opened: BigIntStats | undefined;
  readonly #size: number | undefined;
  #position: number;
  /** A pipe's bytes before the start (a resumed upload): read and dropped before the first fill. */
  #skip: number;
  #ended = false;
  /** Ends a wait for a slow writer once the upload is over. */
  readonly #stopped = new AbortController();
  /** The read under way, if any. */
  #reading: Promise<unknown> = Promise.resolve();

  constructor(fd: number, name: string, opened: BigIntStats | undefined, position: number) {
    this.#fd = fd;
    this.#name = name;
    this.#opened = opened;
    this.#size = opened && Number(opened.size);
    this.#position = position;
    this.#skip = opened ? 0 : position;
  }

  /** Stops waiting for a slow writer; resolves once no read is under way. */
  stop(): Promise<void> {
    this.#stopped.abort();
    return this.#reading.then(
      () => {},
      () => {},
    );
  }

  /** Fills `buffer` (fewer bytes only at the end of the file); resolves with the byte count. */
  async fill(buffer: Buffer, progress: ProgressSnapshot): Promise<number> {
    while (this.#skip > 0) {
      const dropped = await this.#read(buffer, 0, Math.min(buffer.length, this.#skip), progress);
      if (dropped === 0) break;
      this.#skip -= dropped;
    }
    const want = this.#size === undefined ? buffer.length : Math.min(buffer.length, this.#size - this.#position);
    let filled = 0;
    while (filled < want) {
      const bytesRead = await this.#read(buffer, filled, want - filled, progress);
      if (bytesRead === 0) {
        this.#ended = true;
        if (this.#size !== undefined) throw new FileChangedError(this.#name, this.#size, this.#position, progress);
        break;
      }
      filled += bytesRead;
      this.#position += bytesRead;
    }
    return filled;
  }

  /**
   * True when nothing follows what was read. A regular file is checked before
   * its last buffer goes: for a byte past its size, so a file that grew is
   * refused instead of uploaded short; then, every byte read, against its
   * state when the upload started, so a file written to meanwhile is refused
   * before the server has a complete upload of mixed content.
   */
  async atEnd(progress: ProgressSnapshot): Promise<boolean> {
    if (this.#ended) return true;
    if (this.#opened === undefined || this.#position < this.#size!) return false;
    const bytesRead = await this.#read(Buffer.allocUnsafe(1), 0, 1, progress);
    if (bytesRead > 0) throw new FileChangedError(this.#name, this.#size!, this.#size! + bytesRead, progress);
    const now = await fileStats(this.#fd);
    const changed = changedFields(this.#opened, now);
    if (changed.length > 0) throw new FileChangedError(this.#name, this.#size!, Number(now.size), progress, changed);
    return true;
  }

  /** One read at the current position (a regular file) or as it comes; a failure is the library's error with the figures. */
  async #read(buffer: Buffer, offset: number, length: number, progress: ProgressSnapshot): Promise<number> {
    const position = this.#size === undefined ? null : this.#position;
    const reading = readWhenReady(this.#fd, buffer, offset, length, position, this.#stopped.signal);
    this.#reading = reading;
    try {
      return await reading;
    } catch (error) {
      if (this.#stopped.signal.aborted || isBufferedHttpWritableError(error)) throw error;
      throw new SourceReadError(this.#name, asError(error), progress);
    }
  }
}
