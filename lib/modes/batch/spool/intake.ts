import { HttpStatusError } from '../../../errors.js';
import { mayBlameBatch } from '../../../http/status.js';
import type { SetAsideReason, SpoolState } from '../../../types.js';
import { FLUSH_MARKER, type Chunk, type Filler, type FillerContext, type FlushPoint, type WriteCallback, type WrittenChunk } from '../../../core/filler.js';
import { FlushTimer } from '../../../core/flush-timer.js';
import type { UploadSession } from '../../../core/session.js';
import { CUT, Spool, type SpoolRecord } from './index.js';
import { SET_ASIDE_AFTER_FAILED_RUNS } from './set-aside.js';
import type { ResolvedSpoolSettings } from './settings.js';

/**
 * batch with a spool: the producer is decoupled from the network. Writes are
 * appended to the spool (their callbacks fire once on disk) as fast as the
 * disk takes them; batches are read back from the spool into the pool's
 * buffers as transport slots free up, with the identity the spool fixed, and
 * leave the spool once acknowledged. The Writable hands it what is
 * written; it knows nothing of HTTP.
 */
export class SpoolIntake implements Filler {
  readonly #spool: Spool;
  readonly #context: FillerContext;
  readonly #session: UploadSession;
  readonly #settings: ResolvedSpoolSettings;
  /** Cut batches out of what the spool holds even when they are not full (flush(), end(), flushInterval). */
  #cutPartial = false;
  /** Counts the requests for partial cuts, so a read started before a request cannot answer it. */
  #cutRequests = 0;
  #pumping = false;
  /** A kick that came while the pump was running: it runs again once it stops. */
  #kickedMeanwhile = false;
  #stopped = false;
  /** flushInterval: cuts a batch out of what waits in the spool. */
  readonly #flushTimer: FlushTimer;
  /** Sends not yet acknowledged in the spool. */
  readonly #unacknowledged = new Set<Promise<void>>();
  /** Waiters for the pump to have cut everything appended before their request (`request`: #cutRequests then). */
  #caughtUp: Array<{ request: number; resolve(): void }> = [];

  private constructor(spool: Spool, context: FillerContext, settings: ResolvedSpoolSettings, flushInterval: number | undefined) {
    this.#spool = spool;
    this.#context = context;
    this.#session = context.session;
    this.#settings = settings;
    this.#flushTimer = new FlushTimer(flushInterval, () => this.#cut());
  }

  /** Opens (and locks) the spool; what an earlier run left is sent first. */
  static async open(context: FillerContext, settings: ResolvedSpoolSettings, flushInterval: number | undefined): Promise<SpoolIntake> {
    const opened: { intake?: SpoolIntake } = {};
    // A full spool waits for acknowledgements: send what there is, partial batches included.
    const spool = await Spool.open({ ...settings, onFull: () => opened.intake && opened.intake.#cut() });
    const intake = new SpoolIntake(spool, context, settings, flushInterval);
    opened.intake = intake;
    context.session.fromEarlierRun(spool.bytesStored);
    context.session.spoolOpened({ dir: settings.dir, bytesStored: spool.bytesStored, inputBytes: spool.inputBytes });
    if (!spool.empty) intake.#cut();
    return intake;
  }

  write(chunk: Chunk, encoding: BufferEncoding, callback: WriteCallback): void {
    this.writev([{ chunk, encoding }], callback);
  }

  /** The chunks become records (a flush() marker a batch boundary): group commit, one append (and one sync) for all. */
  writev(chunks: WrittenChunk[], callback: WriteCallback): void {
    const records: SpoolRecord[] = [];
    const flushes: FlushPoint[] = [];
    for (const { chunk, encoding } of chunks) {
      if (chunk === FLUSH_MARKER) {
        records.push(CUT);
        flushes.push(this.#context.reachedFlush());
      } else if (chunk.length === 0) {
        continue;
      } else if (typeof chunk !== 'string' || encoding === 'utf8' || encoding === 'utf-8') {
        // UTF-8 strings are encoded by the spool, straight into the group it writes.
        records.push(chunk);
      } else {
        records.push(Buffer.from(chunk, encoding));
      }
    }
    this.#append(records).then((bytes) => {
      this.#session.written(bytes);
      callback();
      if (flushes.length === 0) return;
      // flush(): every batch up to the boundary is acknowledged (destroy rejects the waiters instead).
      void this.#drain().then(() => {
        for (const flush of flushes) flush.settled();
      });
    }, callback);
  }

  /** The stream ends: send everything, then release the spool. 'finish' means the spool is empty. */
  async finish(): Promise<void> {
    await this.#drain();
    this.#flushTimer.clear();
    await this.#spool.endInput();
    await this.#spool.close();
  }

  /**
   * The upload failed or was stopped: nothing more is read, the spool is
   * closed with its data in place. A batch refused for what it is moves
   * aside so the next start goes on after it. Resolves with what the error
   * should say (`error.spool`).
   */
  async stop(failure: Error | null): Promise<{ spool: SpoolState }> {
    this.#stopped = true;
    this.#flushTimer.clear();
    const state: SpoolState = { dir: this.#settings.dir, bytesStored: 0 };
    if (failure instanceof HttpStatusError && failure.sequence !== undefined) {
      await this.#setAsideIfPoison(failure, failure.sequence, state).catch(() => {});
    }
    await this.#spool.close();
    // Read once closed: an append under way when the upload failed may still have landed.
    state.bytesStored = this.#spool.bytesStored;
    return { spool: state };
  }

  /**
   * A batch the server refused would block every later one: it moves aside
   * at once when its answer is in `setAsideOn`, or once its refusal ended
   * SET_ASIDE_AFTER_FAILED_RUNS runs (counted in the journal, only for
   * refusals that may be the batch's fault: not for credentials or load).
   */
  async #setAsideIfPoison(failure: HttpStatusError, sequence: number, state: SpoolState): Promise<void> {
    const { statusCode, body } = failure;
    const response = failure.statusMessage === undefined ? { statusCode, body } : { statusCode, statusMessage: failure.statusMessage, body };
    let reason: SetAsideReason | undefined;
    if (this.#settings.setAsideOn(response)) reason = 'refused';
    else if (mayBlameBatch(statusCode, body) && (await this.#spool.recordFailedRun(sequence)) >= SET_ASIDE_AFTER_FAILED_RUNS) reason = 'failed-runs';
    if (!reason) return;
    state.setAside = await this.#spool.setAside(sequence, { statusCode, body, reason });
    state.setAsideReason = reason;
  }

  /** Appends records with one write (and one sync); resolves with their payload bytes once they are on disk. */
  async #append(records: SpoolRecord[]): Promise<number> {
    const bytes = await this.#spool.append(records);
    if (records.includes(CUT)) this.#cut();
    else {
      this.#flushTimer.start();
      this.#pump();
    }
    return bytes;
  }

  /** Resolves once everything appended so far was sent and acknowledged (flush(), end()). */
  async #drain(): Promise<void> {
    this.#cut();
    const request = this.#cutRequests;
    const caughtUp = new Promise<void>((resolve) => this.#caughtUp.push({ request, resolve }));
    await caughtUp;
    await Promise.all(this.#unacknowledged);
  }

  #cut(): void {
    this.#cutPartial = true;
    this.#cutRequests++;
    this.#pump();
  }

  /** Reads batches into free pool buffers while the transport has room. */
  #pump(): void {
    if (this.#stopped) return;
    if (this.#pumping) {
      this.#kickedMeanwhile = true;
      return;
    }
    this.#pumping = true;
    this.#kickedMeanwhile = false;
    void this.#fill().finally(() => {
      this.#pumping = false;
      if (this.#kickedMeanwhile) this.#pump();
    });
  }

  /**
   * One batch is read (and fixed in the journal) ahead, into the pool's spare
   * buffer, while every slot is busy: the next send starts the moment a slot
   * frees, not after a read and a journal write.
   */
  async #fill(): Promise<void> {
    const session = this.#session;
    while (!this.#stopped && session.pool.available > 0) {
      const buffer = session.pool.acquire();
      const partial = this.#cutPartial;
      const request = this.#cutRequests;
      let batch;
      try {
        batch = await this.#spool.nextBatch(buffer, partial);
      } catch (error) {
        session.pool.release(buffer);
        // A read that fails after open (damage found on the way) ends the upload by the one route.
        if (!this.#stopped) session.fail(error as Error);
        return;
      }
      if (batch === undefined || this.#stopped) {
        session.pool.release(buffer);
        if (batch === undefined && partial) this.#reachedEnd(request);
        return;
      }
      // A record larger than the buffer came in its own Buffer: the pool's is free again at once.
      const ownBuffer = batch.bytes.buffer === buffer.buffer;
      if (!ownBuffer) session.pool.release(buffer);
      try {
        while (!session.hasFreeSlot) await session.slotFree();
      } catch {
        // The upload failed meanwhile: the batch stays in the spool, fixed, for the next start.
        if (ownBuffer) session.pool.release(buffer);
        return;
      }
      if (this.#stopped) {
        if (ownBuffer) session.pool.release(buffer);
        return;
      }
      this.#flushTimer.clear();
      const { sequence, offset, key, records } = batch;
      const sent = session.send(
        batch.bytes,
        { last: false, records, identity: { sequence, offset, key } },
        ownBuffer ? () => session.pool.release(buffer) : undefined,
      );
      const acknowledged = sent
        .then(() => this.#spool.acknowledge(sequence))
        .then(
          () => {
            this.#unacknowledged.delete(acknowledged);
            this.#pump();
          },
          (error: unknown) => {
            if (!this.#stopped) session.fail(error as Error);
          },
        );
      this.#unacknowledged.add(acknowledged);
    }
  }

  /** A partial read found nothing unread: the cut requests up to `request` are done, and whoever waited for them is told. */
  #reachedEnd(request: number): void {
    if (request === this.#cutRequests) this.#cutPartial = false;
    const done = this.#caughtUp.filter((waiter) => waiter.request <= request);
    this.#caughtUp = this.#caughtUp.filter((waiter) => waiter.request > request);
    for (const waiter of done) waiter.resolve();
  }
}
