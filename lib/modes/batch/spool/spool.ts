/**
 * The spool: records written to a batch upload are kept on disk until the
 * server acknowledges the batch that carries them, so a process that dies
 * loses nothing whose `append()` resolved, and a batch resent after a restart
 * is byte-identical with the same sequence, offset and key (DESIGN.md,
 * invariant 7).
 *
 * Directory layout (`<dir>`):
 *
 * ```
 * lock                      pid of the process holding the spool (one writer per spool)
 * journal                   batch journal: framed JSON entries
 *                             start  {uploadId, next sequence, next offset, read position,
 *                                    input?: {id, from}: the input the records come from and
 *                                    the upload offset of its first byte}
 *                             fix    {sequence, offset, from, to, fromGroup, bytes, records,
 *                                    failedRuns?}: a batch's identity, written before it is
 *                                    first handed out, and again after a run its refusal ended
 *                             ack / aside {sequence}: the batch has left the spool
 *                           rewritten (via journal.next + rename) with only the open
 *                           batches once it passes 1 MiB, and when the input changes
 * seg-<20-digit position>.log
 *                           record segments: one group per append, holding its records back
 *                           to back, then a table of their lengths and CUT markers (batch
 *                           boundaries from flush()), frame.ts; the name is the
 *                           position of the segment's first byte in the stream of groups; a
 *                           new segment starts once one holds min(8 MiB, maxBytes / 8); a
 *                           segment is deleted once every batch in it is acknowledged, the
 *                           last one too when the spool closes
 * rejected/<key>.bin        a batch the server refused permanently, byte for byte
 * rejected/<key>.json       {reason, failedRuns, statusCode, body (its start, redacted), sequence, offset,
 *                           key, bytes, records, time}
 * ```
 *
 * Every unit (a journal entry, or the group of records one append wrote) is
 * framed with its length, a check of the length and a crc32 (frame.ts). A
 * last append cut short is cut off at open; a whole unit whose crc32 fails,
 * anywhere, fails the open with ERR_BHW_SPOOL_CORRUPT naming the file and
 * byte offset. The directory is 0700, the files 0600, and no file is opened
 * through a symlink (files.ts).
 */
import { SpoolCorruptError, SpoolInputError } from '../../../spool-errors.js';
import type { SpoolCounts } from './counts.js';
import { ensureSpoolDirectory, spoolIoError } from './files.js';
import { Journal, type FixedBatch, type JournalFound, type JournalState } from './journal.js';
import { acquireLock, type SpoolLock } from './lock.js';
import { SpoolReader, type SpooledBatch } from './reader.js';
import { RecentGroups } from './recent-groups.js';
import { RecentTables } from './recent-tables.js';
import { checkSegments, releasedPosition, repairSegments, type Unread } from './recovery.js';
import { SegmentStore } from './segments.js';
import { SerialQueue } from './serial-queue.js';
import { writeRejected, type Refusal } from './set-aside.js';
import { CUT, SpoolWriter, type SpoolRecord } from './writer.js';
import { refuseRecord } from './record-limit.js';
import type { SetAsideReason, SpoolSettings } from '../../../types.js';
import { resolveSpoolSettings, type ResolvedSpoolSettings } from './settings.js';

/** The spool's settings (defaults and checks in ./settings.ts), and what only the engine's owner sets. */
export interface SpoolOptions extends SpoolSettings {
  /** A segment file is closed and a new one started past this size. Default min(8 MiB, maxBytes / 8). */
  segmentBytes?: number;
  /**
   * Called when an `append()` starts waiting for room. Only acknowledgements
   * free room, so the caller should send what there is: `nextBatch()` cuts a
   * partial batch by itself while an append waits.
   */
  onFull?: () => void;
}

/**
 * Acknowledged records leave the disk a whole segment at a time, so a
 * segment is what may linger of them. 8 MiB: smaller segments cost a
 * create, an unlink (and with fsync a directory sync) more often; at 1 MiB
 * that showed (1 MiB records: 1.5× the time), at 2–8 MiB it stayed in the
 * noise (bench/notes/S2-large-records.md).
 */
const MAX_SEGMENT_BYTES = 8 << 20;
/** The read buffer the spool is checked through at open: it is never loaded whole. */
const SCRATCH_BYTES = 256 << 10;

/**
 * A durable queue of records cut into batches with a fixed identity. One
 * writer per directory. Appends are serialized among themselves, batch reads
 * among themselves; acknowledgements may come in any order. This front opens
 * and closes the spool and keeps the books of open batches; the writer
 * (writer.ts), the reader (reader.ts) and set-aside (set-aside.ts) do the work.
 */
export class Spool {
  readonly #dir: string;
  readonly #maxBytes: number;
  readonly #fsync: boolean;
  readonly #lock: SpoolLock;
  readonly #segments: SegmentStore;
  readonly #journal: Journal;
  readonly #state: JournalState;
  readonly #counts: SpoolCounts;
  /** Bytes of `spool.input` taken before this open. */
  readonly #inputBytes: number;
  readonly #writer: SpoolWriter;
  readonly #reader: SpoolReader;
  /** One queue per kind of work: each kind keeps its order, the kinds overlap. */
  readonly #appends: SerialQueue;
  readonly #reads: SerialQueue;
  /** Journal entries (a batch fixed, acknowledged, set aside) and the compaction they may trigger. */
  readonly #journalWrites: SerialQueue;
  #closing: Promise<void> | undefined;

  private constructor(options: ResolvedOptions, parts: OpenedParts) {
    this.#dir = options.dir;
    this.#maxBytes = options.maxBytes;
    this.#fsync = options.fsync;
    this.#lock = parts.lock;
    this.#segments = parts.segments;
    this.#journal = parts.journal;
    this.#state = parts.state;
    // A system error anywhere below is a SpoolIoError by the time it leaves the spool.
    const failure = (error: unknown): unknown => spoolIoError(error, options.dir);
    this.#appends = new SerialQueue(failure);
    this.#reads = new SerialQueue(failure);
    this.#journalWrites = new SerialQueue(failure);
    const { unread } = parts;
    // Batches fixed by an earlier run hold records too: they count until acknowledged.
    let fixedBytes = 0;
    for (const batch of parts.state.open.values()) fixedBytes += batch.bytes;
    this.#counts = { stored: unread.bytes + fixedBytes, unreadBytes: unread.bytes, unreadRecords: unread.records, unreadCuts: unread.cuts };
    this.#inputBytes = parts.state.input ? parts.state.nextOffset + unread.bytes - parts.state.input.from : 0;
    // What the writer wrote last, kept for the reader: a consumer that keeps up reads from memory.
    const recent = new RecentGroups();
    const recentTables = new RecentTables();
    const { maxBytes, segmentBytes, onFull } = options;
    this.#writer = new SpoolWriter({ maxBytes, segmentBytes, onFull, segments: parts.segments, counts: this.#counts, recent, recentTables });
    this.#reader = new SpoolReader({
      dir: options.dir,
      segments: parts.segments,
      journal: parts.journal,
      journalWrites: this.#journalWrites,
      state: parts.state,
      counts: this.#counts,
      readGroup: unread.readGroup,
      recent,
      recentTables,
    });
  }

  /**
   * Creates the directory (or checks that it is this user's alone), takes
   * the lock, and checks everything stored before it writes anything: a
   * spool that fails to open is left as it was. Then cuts a torn tail.
   */
  static async open(options: SpoolOptions): Promise<Spool> {
    const resolved = resolveSpoolOptions(options);
    const { dir, fsync } = resolved;
    try {
      await ensureSpoolDirectory(dir, resolved.allowUnsafeDirectory);
      const lock = await acquireLock(dir);
      let found: JournalFound | undefined;
      let journal: Journal | undefined;
      let segments: SegmentStore | undefined;
      try {
        const scratch = Buffer.allocUnsafe(SCRATCH_BYTES);
        found = await Journal.read(dir, scratch);
        segments = await SegmentStore.open(dir, fsync);
        if (!found.state && segments.segments.length > 0) {
          throw new SpoolCorruptError(found.path, 0, 'record segments exist but the journal is missing or empty');
        }
        const state = found.state ?? { uploadId: '', nextSequence: 0, nextOffset: 0, read: 0, open: new Map() };
        const checked = await checkSegments(segments, state, scratch, found.path);
        const input = inputMark(resolved, state, checked.unread);
        // Everything checked out: only now is anything written.
        const opened = await Journal.open(dir, fsync, found);
        journal = opened.journal;
        await repairSegments(segments, opened.state, checked);
        if (input !== opened.state.input) {
          opened.state.input = input;
          await journal.rewrite(opened.state);
        }
        return new Spool(resolved, { lock, segments, journal, state: opened.state, unread: checked.unread });
      } catch (error) {
        await segments?.close();
        await (journal ?? found?.handle)?.close();
        await lock.release();
        throw error;
      }
    } catch (error) {
      throw spoolIoError(error, dir);
    }
  }

  /** Made at the first open and kept in the journal: the same after a restart. */
  get uploadId(): string {
    return this.#state.uploadId;
  }

  /** Payload bytes of records not yet acknowledged (what counts against maxBytes). */
  get bytesStored(): number {
    return this.#counts.stored;
  }

  /**
   * With `input`: bytes of that input the spool took in earlier runs (sent,
   * or kept to send first); 0 for an input it had not seen. A producer that
   * reads a file resumes it from this byte. Records of the input arrive
   * whole or not at all, so this is where a record begins.
   */
  get inputBytes(): number {
    return this.#inputBytes;
  }

  /** True when every record ever appended is in an acknowledged or set-aside batch. */
  get empty(): boolean {
    return this.#state.open.size === 0 && this.#counts.unreadRecords === 0;
  }

  /** True while an `append()` waits for acknowledgements to free room. */
  get full(): boolean {
    return this.#writer.full;
  }

  /**
   * Group commit: appends the records (and CUT markers) with one writev and,
   * with fsync, one fdatasync. A string is a record of UTF-8 text, encoded
   * straight into the group (no Buffer of its own). Resolves with the
   * records' payload bytes once they are in the file. Waits while they would
   * take the spool past maxBytes; when only some fit, those go first. A
   * record that can never fit refuses the whole append (SpoolRecordTooLargeError),
   * nothing stored: the caller refuses it at its own write (refuseRecord).
   */
  append(records: readonly SpoolRecord[]): Promise<number> {
    for (const record of records) {
      const tooLarge = record === CUT ? undefined : refuseRecord(record, 'utf8', this.#maxBytes);
      if (tooLarge) return Promise.reject(tooLarge);
    }
    return this.#appends.run(() => this.#writer.append(records));
  }

  /**
   * The next batch: first a batch fixed by an earlier run and never
   * acknowledged (identical bytes, sequence, offset and key), then new records
   * from the read cursor, whole, into `into` until the next one would not fit
   * or a CUT. A record larger than `into` travels alone in its own Buffer.
   * When the records run out first, a batch is cut only with `partial` (or
   * while an append waits for room); otherwise undefined. The batch's identity
   * is in the journal (synced with fsync) before it is returned.
   */
  nextBatch(into: Buffer, partial: boolean): Promise<SpooledBatch | undefined> {
    // Whether an append waits is asked when the read starts, not when it is queued.
    return this.#reads.run(() => this.#reader.next(into, partial || this.full));
  }

  /** A 2xx: the batch leaves the spool; whole segments behind every open batch are deleted. */
  acknowledge(sequence: number): Promise<void> {
    return this.#journalWrites.run(async () => {
      const batch = this.#take(sequence);
      await this.#journal.append({ t: 'ack', sequence }, false);
      await this.#release(batch);
    });
  }

  /**
   * A permanent refusal: the batch is copied to `<dir>/rejected/<key>.bin`
   * with `<key>.json` beside it, then leaves the spool, so the next start goes
   * on after it. Returns the path of the `.bin`.
   */
  async setAside(sequence: number, answer: Pick<Refusal, 'statusCode' | 'body'> & { reason?: SetAsideReason }): Promise<string> {
    const batch = this.#state.open.get(sequence);
    if (!batch) throw new RangeError(`No open batch with sequence ${sequence} in the spool`);
    const bytes = await this.#reads.run(async () => {
      const target = Buffer.allocUnsafe(batch.bytes);
      await this.#reader.readFixed(batch, target);
      return target;
    });
    const refusal: Refusal = { reason: 'refused', ...answer, failedRuns: batch.failedRuns ?? 0 };
    const path = await writeRejected(this.#dir, this.#reader.key(sequence), batch, bytes, refusal, this.#fsync);
    // Only once its copy is on disk does the batch leave the journal.
    await this.#journalWrites.run(async () => {
      this.#take(sequence);
      await this.#journal.append({ t: 'aside', sequence }, true);
      await this.#release(batch);
    });
    return path;
  }

  /**
   * A run ended with the server refusing this batch: one more failed run in
   * its journal entry (a `fix` of it again). Resolves with the count.
   */
  recordFailedRun(sequence: number): Promise<number> {
    return this.#journalWrites.run(async () => {
      const batch = this.#state.open.get(sequence);
      if (!batch) throw new RangeError(`No open batch with sequence ${sequence} in the spool`);
      batch.failedRuns = (batch.failedRuns ?? 0) + 1;
      await this.#journal.append({ t: 'fix', ...batch }, true);
      return batch.failedRuns;
    });
  }

  /** The input was sent whole: the spool forgets it, so the same input again is a new one, sent from its start. */
  endInput(): Promise<void> {
    return this.#journalWrites.run(async () => {
      if (!this.#state.input) return;
      delete this.#state.input;
      await this.#journal.rewrite(this.#state);
    });
  }

  /** Releases the lock and closes the files; data stays. Idempotent. A waiting append is rejected. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const queued = [this.#appends.close(), this.#reads.close(), this.#journalWrites.close()];
      this.#writer.close();
      await Promise.allSettled(queued);
      // No append runs any more: the last segment goes too once all of it is acknowledged, so 'finish' leaves no records on disk.
      const failed = await this.#deleteAcknowledged(false).then(
        () => undefined,
        (error: unknown) => ({ error }),
      );
      try {
        await this.#segments.close();
        await this.#journal.close();
      } finally {
        await this.#lock.release();
      }
      if (failed) throw failed.error;
    })();
    return this.#closing;
  }

  /** Takes an open batch out of the spool's books (acknowledged or set aside). */
  #take(sequence: number): FixedBatch {
    const batch = this.#state.open.get(sequence);
    if (!batch) throw new RangeError(`No open batch with sequence ${sequence} in the spool`);
    this.#state.open.delete(sequence);
    this.#reader.forget(sequence);
    return batch;
  }

  /** After a batch left: frees its room, deletes the segments behind every open batch, compacts the journal. */
  async #release(batch: FixedBatch): Promise<void> {
    this.#counts.stored -= batch.bytes;
    await this.#deleteAcknowledged(true);
    await this.#journal.compactIfLarge(this.#state);
    this.#writer.roomFreed();
  }

  /** Deletes the segments behind every open batch; `keepLast` while an append may be writing to it. */
  async #deleteAcknowledged(keepLast: boolean): Promise<void> {
    const released = releasedPosition(this.#state);
    const segments = this.#segments.segments;
    const first = segments[0];
    if (!first || segments.length <= (keepLast ? 1 : 0) || first.start + first.length > released) return;
    // The acknowledgements that free a segment must be on disk before its records go.
    await this.#journal.sync();
    await this.#segments.deleteBefore(released, keepLast);
  }
}

interface OpenedParts {
  lock: SpoolLock;
  segments: SegmentStore;
  journal: Journal;
  state: JournalState;
  unread: Unread;
}

type ResolvedOptions = ResolvedSpoolSettings & { segmentBytes: number; onFull?: (() => void) | undefined };

/**
 * Where the given input starts in the spool's upload offsets: where the
 * journal says for the input it names; the end of the records for a new
 * input, once every record is acknowledged (otherwise the new input would
 * follow records of another: refused). Without `input`, the journal's as it is.
 */
function inputMark(options: ResolvedOptions, state: JournalState, unread: Unread): JournalState['input'] {
  const { input } = options;
  if (input === undefined || state.input?.id === input) return state.input;
  const stored = unread.bytes + [...state.open.values()].reduce((sum, batch) => sum + batch.bytes, 0);
  if (state.open.size > 0 || unread.records > 0) throw new SpoolInputError(options.dir, state.input?.id, input, stored);
  return { id: input, from: state.nextOffset + unread.bytes };
}

function resolveSpoolOptions(options: SpoolOptions): ResolvedOptions {
  const { segmentBytes: segmentOption, onFull, ...settings } = options;
  const resolved = resolveSpoolSettings(settings);
  const { maxBytes } = resolved;
  const segmentBytes = segmentOption ?? Math.min(MAX_SEGMENT_BYTES, Math.max(1, Math.floor(maxBytes / 8)));
  if (!Number.isSafeInteger(segmentBytes) || segmentBytes < 1) throw new RangeError(`spool.segmentBytes must be a positive integer, received ${segmentBytes}`);
  if (onFull !== undefined && typeof onFull !== 'function') throw new TypeError('spool.onFull must be a function');
  return { ...resolved, segmentBytes, onFull };
}
