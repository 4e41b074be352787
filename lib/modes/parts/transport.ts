import { publishRequestRetried, type UploadDiagnostics } from '../../diagnostics.js';
import { PartsStateError, TooManyPartsError } from '../../errors.js';
import { abortError } from '../../http/abort.js';
import { createConcurrencyLimiter } from '../../http/adaptive-concurrency.js';
import type { AttemptContext } from '../../http/attempt.js';
import { classifyAttempt, type AttemptKind, type ConcurrencyLimiter } from '../../http/concurrency-limiter.js';
import { AttemptFailed, retrying } from '../../http/retry-loop.js';
import type { ErrorPosition, UploadResponse } from '../../types.js';
import type { UploadContext } from '../../upload-context.js';
import { failed, type SendInfo, type Transport, type TransportReports } from '../transport.js';
import type { PartsOptions } from './options.js';
import type { PartsProtocol, StoredPart } from './protocol.js';
import { contiguousParts, readPartsState, removePartsState, stateTarget, writePartsState } from './state-file.js';

/** Builds a mode's protocol; its requests' errors say where the upload stands through `attemptContext`. */
export type PartsProtocolFactory = (attemptContext: AttemptContext) => PartsProtocol;

/**
 * The multipart modes (s3, azure-blob): every full buffer is one part, sent
 * in parallel up to the concurrency limit (fixed or `'auto'`), each retried
 * alone by the retry loop; `end()` completes the object once every part is
 * stored, so `'finish'` means the object exists. A body smaller than one
 * buffer is one request (`putWhole`). With a `stateFile`, the upload id and
 * every stored part are recorded as they are acknowledged, and a later
 * process given the same file continues with the next part.
 *
 * `send()` resolves when the part is stored: only then may the core reuse
 * its buffer, so memory stays at `concurrency + 1` parts.
 */
export class PartsTransport implements Transport {
  readonly maxInFlight: number;
  readonly keepsWritesWhole = false;
  readonly checksTotalLength = false;
  /** S3 takes a short part only as the last one. */
  readonly sendsFullBuffers = true;
  readonly #options: PartsOptions;
  readonly #reports: TransportReports;
  readonly #diagnostics: UploadDiagnostics;
  readonly #protocol: PartsProtocol;
  readonly #limiter: ConcurrencyLimiter;
  /** Aborted on failure or abort: every request and every backoff ends at once. */
  readonly #cancel = new AbortController();
  /** Every `send()` not yet settled, for `end()`. */
  readonly #pending = new Set<Promise<void>>();
  /** Parts the server holds, by number: those of a resumed upload, then each one acknowledged. */
  readonly #stored = new Map<number, StoredPart>();
  /** The parts a resumed upload keeps (without a gap), loaded once before the first request. */
  #resumed?: Promise<number>;
  /** The multipart upload, created once (or resumed). */
  #created?: Promise<string>;
  #uploadId?: string;
  /** The object, when it went as one request. */
  #wholeResponse?: UploadResponse;
  /** State file writes, one after another in the order parts were acknowledged. */
  #stateWrites: Promise<void> = Promise.resolve();
  #over = false;

  constructor(options: PartsOptions, context: UploadContext, reports: TransportReports, protocol: PartsProtocolFactory) {
    this.#options = options;
    this.#reports = reports;
    this.#diagnostics = context.diagnostics;
    this.#limiter = createConcurrencyLimiter(options.concurrency, {
      max: options.maxConcurrency,
      onChange: (change) => reports.concurrencyChanged(change.limit),
    });
    this.maxInFlight = this.#limiter.max;
    if (this.#limiter.adaptive) reports.concurrencyChanged(this.#limiter.limit);
    this.#protocol = protocol({ progress: () => reports.progress(), position: () => this.position(), credentials: context.credentials });
  }

  send(bytes: Buffer, info: SendInfo): Promise<void> {
    const delivery = failed(this.#deliver(bytes, info), (error) => this.#fail(error));
    this.#pending.add(delivery);
    void delivery.then(() => this.#pending.delete(delivery));
    return delivery;
  }

  end(): Promise<UploadResponse | undefined> {
    return failed(this.#complete(), (error) => this.#fail(error));
  }

  abort(): void {
    if (this.#over) return;
    this.#over = true;
    this.#cancelInFlight(abortError());
    // Best effort: the caller has already given up on the upload.
    void this.#dropUpload().catch(() => {});
  }

  position(): ErrorPosition {
    if (this.#uploadId === undefined) return {};
    return { uploadId: this.#uploadId, partsStored: [...this.#stored.keys()].sort((a, b) => a - b) };
  }

  async #deliver(bytes: Buffer, info: SendInfo): Promise<void> {
    const resumedParts = await (this.#resumed ??= this.#resume());
    if (info.sequence === 0 && info.last && resumedParts === 0) {
      this.#reports.sent(bytes.length);
      this.#wholeResponse = await this.#retrying('put', 0, (signal) => this.#protocol.putWhole(bytes, signal));
      this.#reports.acknowledged(info.offset, bytes.length);
      return;
    }
    const number = resumedParts + info.sequence + 1;
    if (number > this.#protocol.maxParts) {
      throw new TooManyPartsError(this.#protocol.name, this.#protocol.maxParts, this.#options.highWaterMark, this.#reports.progress(), this.position());
    }
    const uploadId = await (this.#created ??= this.#create());
    let sent = false;
    const part = await this.#retrying(`part ${number}`, info.sequence, (signal) => {
      // Counted once, on the first attempt: an upper bound on what the server got.
      if (!sent) this.#reports.sent(bytes.length);
      sent = true;
      return this.#protocol.uploadPart(uploadId, number, bytes, signal);
    });
    this.#stored.set(number, part);
    await this.#record();
    this.#reports.acknowledged(info.offset, bytes.length);
  }

  async #complete(): Promise<UploadResponse | undefined> {
    // Deliveries only ever resolve; after a failure the core is gone and this never settles.
    while (this.#pending.size > 0) await Promise.all(this.#pending);
    try {
      return await this.#completeObject();
    } finally {
      this.#limiter.close();
    }
  }

  async #completeObject(): Promise<UploadResponse | undefined> {
    if (this.#wholeResponse) {
      this.#over = true;
      return this.#wholeResponse;
    }
    const resumedParts = await (this.#resumed ??= this.#resume());
    // Nothing was written and nothing resumed: an empty object.
    if (resumedParts === 0 && this.#created === undefined) return this.#retrying('put', 0, (signal) => this.#protocol.putWhole(Buffer.alloc(0), signal));
    const uploadId = await (this.#created ??= this.#create());
    const parts = [...this.#stored.values()].sort((a, b) => a.number - b.number);
    const response = await this.#retrying('complete', parts.length, (signal) => this.#protocol.complete(uploadId, parts, signal));
    if (this.#options.stateFile) await removePartsState(this.#options.stateFile);
    // The object exists: a later abort() (the stream's destroy) has nothing to drop.
    this.#over = true;
    return response;
  }

  /**
   * A state file's upload, when there is one: its id and the parts it keeps.
   * The writer was told to go on after those parts (`readUploadState` reads
   * the same file), so the file says where the next part starts; the
   * server's list, where it has one, confirms each of them (a part it stored
   * after the file's last write is simply sent again).
   */
  async #resume(): Promise<number> {
    const { stateFile, url } = this.#options;
    if (stateFile === undefined) return 0;
    const state = await readPartsState(stateFile, url);
    if (!state) return 0;
    this.#uploadId = state.uploadId;
    this.#created = Promise.resolve(state.uploadId);
    let parts = contiguousParts(state.parts);
    if (this.#protocol.listParts && parts.length > 0) {
      const listed = await this.#retrying('list parts', 0, (signal) => this.#protocol.listParts!(state.uploadId, signal));
      if (listed) parts = heldByServer(stateFile, parts, listed, this.#protocol.name);
    }
    for (const part of parts) this.#stored.set(part.number, part);
    return parts.length;
  }

  async #create(): Promise<string> {
    const uploadId = await this.#retrying('create', 0, (signal) => this.#protocol.create(signal));
    this.#uploadId = uploadId;
    await this.#record();
    return uploadId;
  }

  /** The state file now says what the server holds (written in order: the last write is the newest state). */
  #record(): Promise<void> {
    const { stateFile, url } = this.#options;
    if (stateFile === undefined) return Promise.resolve();
    const state = {
      version: 1 as const,
      target: stateTarget(url),
      uploadId: this.#uploadId!,
      parts: [...this.#stored.values()].sort((a, b) => a.number - b.number),
    };
    this.#stateWrites = this.#stateWrites.then(() => writePartsState(stateFile, state));
    return this.#stateWrites;
  }

  /** One request of the protocol (`name` in diagnostics), retried alone by the retry loop, each attempt in a slot of the limiter. */
  #retrying<T>(name: string, order: number, request: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const { signal } = this.#cancel;
    return retrying(() => this.#inSlot(order, () => request(signal)), {
      settings: this.#options.retry,
      signal,
      beforeRetry: (retry) => void publishRequestRetried(this.#diagnostics, name, retry),
    });
  }

  /** Waits for a slot (oldest part first), makes the attempt, tells the limiter how it went. */
  async #inSlot<T>(order: number, request: () => Promise<T>): Promise<T> {
    const token = await this.#limiter.acquire({ order, signal: this.#cancel.signal });
    const started = performance.now();
    // Neutral unless the attempt ended in a response or a failure of its own: our cancel says nothing of the server.
    let kind: AttemptKind = 'neutral';
    try {
      const result = await request();
      kind = 'ok';
      return result;
    } catch (error) {
      if (error instanceof AttemptFailed) {
        const { statusCode, code } = error.attempt;
        kind = classifyAttempt(statusCode !== undefined ? { statusCode } : code !== undefined ? { errorCode: code } : {});
      }
      throw error;
    } finally {
      this.#limiter.finished(token, { kind, rttMs: performance.now() - started });
    }
  }

  /** The first failure ends the upload: the stored parts are dropped (unless kept to resume), then the core hears of it. */
  #fail(error: Error): void {
    if (this.#over) return;
    this.#over = true;
    this.#cancelInFlight(error);
    void this.#dropUpload()
      .catch(() => {})
      .then(() => this.#reports.fail(error));
  }

  /** Aborts the multipart upload and forgets its state, unless the caller keeps the parts (`leavePartsOnError`). */
  async #dropUpload(): Promise<void> {
    if (this.#options.leavePartsOnError || this.#uploadId === undefined) return;
    await this.#protocol.abort(this.#uploadId);
    if (this.#options.stateFile) await this.#stateWrites.finally(() => removePartsState(this.#options.stateFile!));
  }

  #cancelInFlight(reason: Error): void {
    this.#cancel.abort(reason);
    this.#limiter.close(reason);
  }
}

/** The recorded parts as the server lists them; a part it no longer holds (or holds with another size) cannot be resumed. */
function heldByServer(stateFile: string, recorded: readonly StoredPart[], listed: readonly StoredPart[], protocol: string): StoredPart[] {
  const byNumber = new Map(listed.map((part) => [part.number, part]));
  return recorded.map((part) => {
    const held = byNumber.get(part.number);
    if (held?.size !== part.size) {
      throw new PartsStateError(
        stateFile,
        `records part ${part.number} (${part.size} bytes), which the ${protocol} no longer holds${held ? ` as such (it holds ${held.size} bytes)` : ''}: the upload cannot go on from this file; start over without it`,
      );
    }
    return { ...part, etag: held.etag };
  });
}
