import { BufferPool } from './buffer-pool.js';
import { publishUploadError, publishUploadFinish, publishUploadStart, type UploadDiagnostics } from '../diagnostics.js';
import type { UploadContext } from '../upload-context.js';
import { Progress } from './progress.js';
import type { SendInfo, Transport, TransportFactory, TransportReports } from '../modes/transport.js';
import type { BatchReport, ErrorPosition, ProgressSnapshot, SpoolOpened, TusChecksum, UploadMode, UploadResponse } from '../types.js';

/** What the filler says of a send; the session adds its sequence and offset unless the send brings its own. */
export type SendDetails = Omit<SendInfo, 'sequence' | 'offset'> & {
  /** A batch's identity fixed elsewhere (a spool): sequence, offset and key as first sent, before a restart too. */
  identity?: { sequence: number; offset: number; key: string };
};

/** What an upload tells its owner; the owner (the Writable, or `uploadFile`) turns it into events. */
export interface UploadEvents {
  progress(snapshot: ProgressSnapshot): void;
  response(response: UploadResponse): void;
  batch(report: BatchReport): void;
  /** batch with a spool: it opened, before any request (what it holds, how much of the input it took). */
  spool?(opened: SpoolOpened): void;
  /** The upload failed; called once, with the first failure. */
  failed(error: Error): void;
}

/** The options the session itself reads. */
export interface SessionOptions {
  highWaterMark: number;
  /** The upload's mode: batch counts `batchesSent`/`batchesAcknowledged`. */
  mode: UploadMode;
}

/**
 * The part of an upload between whoever fills buffers and the transport: the
 * pool, the transport's slots, each send's sequence and offset, the counters
 * (their only writer) and the one failure route. It knows neither streams nor
 * HTTP: the Writable's fillers and `uploadFile` drive one.
 */
export class UploadSession<Options extends SessionOptions = SessionOptions> implements TransportReports {
  readonly #highWaterMark: number;
  /** The factory applied to this upload's options (kept as a thunk: the session stays usable as an UploadSession of any options). */
  readonly #makeTransport: () => Transport | Promise<Transport>;
  /** Made by `open()`, before the first send. */
  #transport: Transport | undefined;
  #pool: BufferPool | undefined;
  readonly #events: UploadEvents;
  readonly #progress: Progress;
  #sequence = 0;
  /** Bytes handed to the transport so far: the offset of the next send. */
  #dispatched = 0;
  /** Sends the transport still holds: stream, a buffer the socket has not taken whole; batch and tus, a request not yet answered. */
  #inFlight = 0;
  /** end() was called and the final answer has not come yet. */
  #awaitingFinalAnswer = false;
  readonly #pendingSends = new Set<Promise<void>>();
  readonly #slotWaiters = new Set<{ resolve(): void; reject(error: Error): void }>();
  #failure: Error | undefined;
  #response: UploadResponse | undefined;
  /** For the upload-level diagnostics channels (start, finish, error): none are published before `upload` is set. */
  readonly #diagnostics: UploadDiagnostics;
  /** Where the upload stands for the upload channels: start once, then finish or error once. */
  #published: 'none' | 'started' | 'over' = 'none';

  constructor(options: Options, context: UploadContext, createTransport: TransportFactory<Options>, events: UploadEvents) {
    this.#highWaterMark = options.highWaterMark;
    this.#makeTransport = () => createTransport(options, context, this);
    this.#events = events;
    this.#diagnostics = context.diagnostics;
    this.#progress = new Progress(options.mode === 'batch');
  }

  /**
   * Makes the transport and the pool; called once, before anything is sent.
   * Asynchronous because a mode's code is loaded on its first use: a process
   * that holds every mode's code collects garbage far more often.
   */
  async open(): Promise<void> {
    const transport = await this.#makeTransport();
    this.#transport = transport;
    // One buffer filling while the transport holds as many as it may send at once.
    this.#pool = new BufferPool(this.#highWaterMark, transport.maxInFlight + 1);
  }

  get pool(): BufferPool {
    return this.#pool ?? notOpen();
  }

  get transport(): Pick<Transport, 'maxInFlight' | 'keepsWritesWhole' | 'checksTotalLength' | 'sendsFullBuffers'> {
    return this.#opened();
  }

  /** Bytes accepted from the producer so far. */
  get bytesWritten(): number {
    return this.#progress.bytesWritten;
  }

  /** The producer handed over `bytes` more. No event: progress is reported per buffer, never per write. */
  written(bytes: number): void {
    this.#progress.bytesWritten += bytes;
  }

  /** Before the first send: `bytes` an earlier run left (a spool's data), sent first. */
  fromEarlierRun(bytes: number): void {
    this.#progress.bytesFromSpool = bytes;
  }

  /** The spool opened: its owner is told before any request. */
  spoolOpened(opened: SpoolOpened): void {
    this.#events.spool?.(opened);
  }

  get response(): UploadResponse | undefined {
    return this.#response;
  }

  /** Where the upload stands (tus: upload URL and server offset), for an error raised outside the transport. */
  position(): ErrorPosition {
    return this.#transport?.position?.() ?? {};
  }

  get uploadUrlText(): string | undefined {
    return this.#progress.uploadUrl;
  }

  /** Requests the transport may have in flight now: batch 'auto', the adaptive limit; otherwise fixed. */
  get concurrency(): number {
    return this.#progress.concurrency ?? this.#transport?.maxInFlight ?? 1;
  }

  /** True when the transport can take another send now. */
  get hasFreeSlot(): boolean {
    return this.#inFlight < this.transport.maxInFlight;
  }

  /**
   * True while the upload waits on the network rather than on whoever fills
   * the buffers: a send the transport still holds, or the final answer after
   * end(). False once the upload is over, failed or aborted.
   */
  get waitingOnNetwork(): boolean {
    return this.#failure === undefined && (this.#inFlight > 0 || this.#awaitingFinalAnswer);
  }

  /** Resolves when a send settles; rejects once the upload has failed or was aborted. */
  slotFree(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => this.#slotWaiters.add({ resolve, reject }));
  }

  /**
   * Hands `bytes` to the transport (a slot must be free); resolves when the
   * transport lets go of them. `release` runs first, so a writer woken by the
   * freed slot finds the buffer back in the pool.
   */
  send(bytes: Buffer, { identity, ...details }: SendDetails, release?: () => void): Promise<void> {
    if (this.#published === 'none') this.#publishStart();
    let info: SendInfo;
    if (identity) {
      if (this.#sequence === 0) this.#progress.startAt(identity.offset);
      info = { ...details, ...identity };
      this.#sequence++;
    } else {
      info = { sequence: this.#sequence++, offset: this.#dispatched, ...details };
    }
    this.#dispatched += bytes.length;
    this.#inFlight++;
    const sent = this.#opened().send(bytes, info);
    this.#pendingSends.add(sent);
    // Only ever resolves: a failure comes through fail(), and this send never settles.
    void sent.then(() => {
      release?.();
      this.#inFlight--;
      this.#pendingSends.delete(sent);
      this.#wakeOne();
    });
    return sent;
  }

  /** Resolves once every send so far has settled; undefined when none is pending. */
  settled(): Promise<unknown> | undefined {
    return this.#pendingSends.size === 0 ? undefined : Promise.all(this.#pendingSends);
  }

  /** No more sends: resolves with the final answer once everything is acknowledged. */
  async end(): Promise<UploadResponse | undefined> {
    // stream and tus make a request even for an empty upload; batch makes none.
    if (this.#published === 'none' && !this.#progress.countsBatches) this.#publishStart();
    this.#awaitingFinalAnswer = true;
    // A failure leaves this pending for good; waitingOnNetwork reads #failure then.
    const response = await this.#opened().end(this.#progress.bytesWritten);
    this.#awaitingFinalAnswer = false;
    if (response) this.#answered(response);
    if (this.#published !== 'over' && !this.#failure) {
      this.#published = 'over';
      const upload = this.#diagnostics.upload;
      if (upload) publishUploadFinish(upload, this.#diagnostics.mode, this.#progress, response?.statusCode);
    }
    return response;
  }

  /** Ends the upload from the caller's side (destroy, signal): the transport stops, waiters are let go. */
  abort(reason: Error): void {
    this.#transport?.abort();
    this.#publishError(reason);
    this.#rejectWaiters(reason);
  }

  // TransportReports: what the transport tells the session.

  sent(bytes: number): void {
    this.#progress.bytesSent += bytes;
    this.#changed();
  }

  batchSent(size: number): void {
    this.#progress.bytesSent += size;
    this.#progress.batchesSent! += 1;
    this.#changed();
  }

  acknowledged(offset: number, size: number): void {
    this.#progress.acknowledge(offset, size);
    this.#changed();
  }

  batchAcknowledged(report: BatchReport, response: UploadResponse): void {
    this.#progress.acknowledge(report.offset, report.size);
    this.#progress.batchesAcknowledged! += 1;
    this.#changed();
    this.#events.batch(report);
    this.#answered(response);
  }

  uploadUrl(url: string): void {
    this.#progress.uploadUrl = url;
    this.#changed();
  }

  checksum(state: TusChecksum): void {
    this.#progress.checksum = { ...state };
    this.#changed();
  }

  concurrencyChanged(limit: number): void {
    const starting = this.#progress.concurrency === undefined;
    this.#progress.concurrency = limit;
    // The starting limit is reported while the transport is built: nobody listens yet.
    if (!starting) this.#changed();
  }

  /** The figures of now, for an error or a result to carry. */
  progress(): ProgressSnapshot {
    return this.#progress.snapshot();
  }

  fail(error: Error): void {
    if (this.#failure) return;
    this.#failure = error;
    this.#publishError(error);
    this.#rejectWaiters(error);
    this.#events.failed(error);
  }

  #opened(): Transport {
    return this.#transport ?? notOpen();
  }

  #publishStart(): void {
    this.#published = 'started';
    const diagnostics = this.#diagnostics;
    if (diagnostics.upload) publishUploadStart(diagnostics.upload, diagnostics.mode, diagnostics.url, diagnostics.concurrency);
  }

  /** The first failure, or a destroy/abort before the end: once, and never after `finish`. */
  #publishError(error: Error): void {
    if (this.#published === 'over') return;
    this.#published = 'over';
    const diagnostics = this.#diagnostics;
    if (diagnostics.upload) publishUploadError(diagnostics.upload, diagnostics.mode, error, this.#progress);
  }

  #answered(response: UploadResponse): void {
    if (response === this.#response) return; // batch: end() returns the last batch's answer, already reported
    this.#response = response;
    this.#events.response(response);
  }

  #changed(): void {
    this.#events.progress(this.#progress.snapshot());
  }

  #wakeOne(): void {
    for (const waiter of this.#slotWaiters) {
      this.#slotWaiters.delete(waiter);
      waiter.resolve();
      return;
    }
  }

  #rejectWaiters(reason: Error): void {
    this.#failure ??= reason;
    for (const waiter of this.#slotWaiters) waiter.reject(this.#failure);
    this.#slotWaiters.clear();
  }
}

function notOpen(): never {
  throw new Error('UploadSession used before open()');
}
