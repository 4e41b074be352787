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
 *                             start  {uploadId, next sequence, next offset, read position}
 *                             fix    {sequence, offset, from, to, fromGroup, bytes, records}: a
 *                                    batch's identity, written before it is first handed out
 *                             ack / aside {sequence}: the batch has left the spool
 *                           rewritten (via journal.next + rename) with only the open
 *                           batches once it passes 1 MiB
 * seg-<20-digit position>.log
 *                           record segments: one group per append, holding its records back
 *                           to back, then a table of their lengths and CUT markers (batch
 *                           boundaries from flush()), frame.ts; the name is the
 *                           position of the segment's first byte in the stream of groups; a
 *                           new segment starts once one holds min(8 MiB, maxBytes / 8); a
 *                           segment is deleted once every batch in it is acknowledged, the
 *                           last one too when the spool closes
 * rejected/<key>.bin        a batch the server refused permanently, byte for byte
 * rejected/<key>.json       {statusCode, body (its start), sequence, offset, key, bytes, records, time}
 * ```
 *
 * Every unit (a journal entry, or the group of records one append wrote) is
 * framed with its length, a check of the length and a crc32 (frame.ts). A
 * last append cut short is cut off at open; a whole unit whose crc32 fails,
 * anywhere, fails the open with ERR_BHW_SPOOL_CORRUPT naming the file and
 * byte offset. The directory is 0700, the files 0600, and no file is opened
 * through a symlink (files.ts).
 */
import { join } from 'node:path';
import { crc32 } from './checksum.js';

import { BODY_SNIPPET_LIMIT, SpoolCorruptError, SpoolRecordTooLargeError } from '../../../errors.js';
import { ensureInnerDirectory, ensureSpoolDirectory, onPath, replaceFile, spoolIoError } from './files.js';
import {
  CUT_ENTRY,
  ENTRY_BYTES,
  FrameError,
  MAX_GROUP_ENTRIES,
  MAX_LENGTH,
  UNIT_HEADER,
  readExactly,
  readGroupAt,
  readUnitHeader,
  writeUnitHeader,
  type ByteSource,
  type LoadedGroup,
} from './frame.js';
import { Journal, type FixedBatch, type JournalFound, type JournalState } from './journal.js';
import { checkSegments, releasedPosition, repairSegments, type Unread } from './recovery.js';
import { acquireLock, type SpoolLock } from './lock.js';
import { RecentGroups } from './recent-groups.js';
import { RecentTables } from './recent-tables.js';
import { SegmentStore, syncDirectory } from './segments.js';
import type { ProgressSnapshot, SpoolSettings } from '../../../types.js';
import { resolveSpoolSettings } from './settings.js';

/** A batch boundary in `append()`: what `flush()` writes. */
export const CUT: unique symbol = Symbol('buffered-http-writable.spool.cut');

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

/** What `append()` takes: a record's bytes, a string (a record of UTF-8 text), or a batch boundary. */
export type SpoolRecord = Buffer | string | typeof CUT;

/** A batch being read: where it starts, how far the reader got (and in which group), what is in `into` so far. */
interface BatchDraft {
  start: number;
  startGroup: number;
  position: number;
  group: number;
  filled: number;
  records: number[];
  /** A record larger than `into`, alone. */
  own?: Buffer;
}

/** The index of the record a position names in `group`: its own start names the first. */
function entryIndex(group: LoadedGroup, position: number): number {
  if (position === group.start) return 0;
  const offset = position - group.tableStart;
  const index = offset / ENTRY_BYTES;
  if (!Number.isInteger(index) || index < 0 || index > group.count) throw new FrameError(position, 'bad header');
  return index;
}

/** Record bytes before entry `index` (CUT entries have none). */
function recordBytesBefore(entries: Uint32Array, index: number): number {
  let bytes = 0;
  for (let entry = 0; entry < index; entry++) if (entries[entry] !== CUT_ENTRY) bytes += entries[entry]!;
  return bytes;
}

/** What a step of reading a batch found: go on, a CUT (consumed), the batch is full, or the stored records ended. */
type DraftStep = 'more' | 'cut' | 'full' | 'end';

/** One group framed in the staging buffer (and large records beside it), ready for one writev. */
interface StagedGroup {
  /** One past the last record staged. */
  end: number;
  pieces: Buffer[];
  payloadBytes: number;
  recordCount: number;
  cuts: number;
  /** Table entries (records and CUT markers), in `#entries`. */
  count: number;
}

export interface SpooledBatch {
  /** Batch-Sequence: fixed in the spool before the batch is first handed out. */
  sequence: number;
  /** Batch-Offset: upload byte offset of the batch's first byte. */
  offset: number;
  /** Idempotency-Key: `${uploadId}-${sequence}`. */
  key: string;
  /** The body: a view of the caller's buffer, or its own Buffer when one record (or an old batch) is larger. */
  bytes: Buffer;
  /** Byte length of each record in the batch, in order. */
  records: number[];
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
/** Records up to this size are copied into one staging buffer; larger ones go to writev as they are. */
const COPY_LIMIT = 16 << 10;
const REJECTED_DIR = 'rejected';

/**
 * The error for a record the spool can never hold (larger than `maxBytes`, or
 * than one frame), or undefined when it may fit once there is room.
 */
export function refuseRecord(
  record: Uint8Array | string,
  encoding: BufferEncoding,
  maxBytes: number,
  progress?: ProgressSnapshot,
): SpoolRecordTooLargeError | undefined {
  const largest = Math.min(maxBytes, MAX_LENGTH - 2 * ENTRY_BYTES);
  // No encoding takes more than 3 bytes per UTF-16 code unit: most strings need no measuring.
  const bound = typeof record === 'string' ? record.length * 3 : record.length;
  if (bound <= largest) return undefined;
  const length = typeof record === 'string' ? Buffer.byteLength(record, encoding) : bound;
  return length > largest ? new SpoolRecordTooLargeError(length, maxBytes, largest, progress) : undefined;
}

/**
 * A durable queue of records cut into batches with a fixed identity. One
 * writer per directory. Appends are serialized among themselves, batch reads
 * among themselves; acknowledgements may come in any order.
 */
export class Spool {
  readonly #dir: string;
  readonly #maxBytes: number;
  readonly #fsync: boolean;
  readonly #segmentBytes: number;
  readonly #onFull: (() => void) | undefined;
  readonly #lock: SpoolLock;
  readonly #segments: SegmentStore;
  readonly #journal: Journal;
  readonly #state: JournalState;
  /** Batches fixed by an earlier run, not yet handed out again, oldest first. */
  readonly #resend: FixedBatch[];
  /** The group the read position (`state.read`) lies in, and the last group loaded for reading. */
  #readGroup: number;
  #loaded: LoadedGroup | undefined;
  /** Table entries of the group being staged. */
  readonly #entries = new Uint32Array(MAX_GROUP_ENTRIES);
  #bytesStored: number;
  /** After the read cursor: payload bytes, records and CUT markers not yet in a batch. */
  #unreadBytes: number;
  #unreadRecords: number;
  #unreadCuts: number;
  #staging: Buffer = Buffer.allocUnsafe(64 << 10);
  /** The last groups written, still in memory: a consumer that keeps up reads them from here. */
  readonly #recent = new RecentGroups();
  /** The tables of the last groups written (further back than `#recent`): reading them back needs no small reads. */
  readonly #recentTables = new RecentTables();
  #appends: Promise<unknown> = Promise.resolve();
  #reads: Promise<unknown> = Promise.resolve();
  #journalWrites: Promise<unknown> = Promise.resolve();
  #roomWaiter: { resolve(): void; reject(error: Error): void } | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;

  private constructor(options: Required<Omit<SpoolOptions, 'onFull'>> & Pick<SpoolOptions, 'onFull'>, parts: OpenedParts) {
    this.#dir = options.dir;
    this.#maxBytes = options.maxBytes;
    this.#fsync = options.fsync;
    this.#segmentBytes = options.segmentBytes;
    this.#onFull = options.onFull;
    this.#lock = parts.lock;
    this.#segments = parts.segments;
    this.#journal = parts.journal;
    this.#state = parts.state;
    this.#resend = [...parts.state.open.values()].sort((a, b) => a.sequence - b.sequence);
    this.#readGroup = parts.unread.readGroup;
    this.#unreadBytes = parts.unread.bytes;
    this.#unreadRecords = parts.unread.records;
    this.#unreadCuts = parts.unread.cuts;
    this.#bytesStored = parts.unread.bytes + this.#resend.reduce((sum, batch) => sum + batch.bytes, 0);
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
        // Everything checked out: only now is anything written.
        const opened = await Journal.open(dir, fsync, found);
        journal = opened.journal;
        await repairSegments(segments, opened.state, checked);
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
    return this.#bytesStored;
  }

  /** True when every record ever appended is in an acknowledged or set-aside batch. */
  get empty(): boolean {
    return this.#state.open.size === 0 && this.#unreadRecords === 0;
  }

  /** True while an `append()` waits for acknowledgements to free room. */
  get full(): boolean {
    return this.#roomWaiter !== undefined;
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
    return this.#serial('appends', () => this.#append(records));
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
    return this.#serial('reads', () => this.#nextBatch(into, partial));
  }

  /** A 2xx: the batch leaves the spool; whole segments behind every open batch are deleted. */
  acknowledge(sequence: number): Promise<void> {
    return this.#serial('journalWrites', async () => {
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
  async setAside(sequence: number, answer: { statusCode: number; body: string }): Promise<string> {
    const batch = this.#state.open.get(sequence);
    if (!batch) throw new RangeError(`No open batch with sequence ${sequence} in the spool`);
    const bytes = await this.#serial('reads', async () => {
      const target = Buffer.allocUnsafe(batch.bytes);
      await this.#readFixed(batch, target);
      return target;
    });
    const key = this.#key(sequence);
    const dir = join(this.#dir, REJECTED_DIR);
    await ensureInnerDirectory(dir);
    const path = join(dir, `${key}.bin`);
    const body = Buffer.from(answer.body).subarray(0, BODY_SNIPPET_LIMIT).toString();
    const about = {
      statusCode: answer.statusCode,
      body,
      sequence,
      offset: batch.offset,
      key,
      bytes: batch.bytes,
      records: batch.records,
      time: new Date().toISOString(),
    };
    await replaceFile(path, bytes, this.#fsync);
    await replaceFile(join(dir, `${key}.json`), Buffer.from(`${JSON.stringify(about, null, 2)}\n`), this.#fsync);
    if (this.#fsync) await onPath(dir, () => syncDirectory(dir));
    await this.#serial('journalWrites', async () => {
      this.#take(sequence);
      await this.#journal.append({ t: 'aside', sequence }, true);
      await this.#release(batch);
    });
    return path;
  }

  /** Releases the lock and closes the files; data stays. Idempotent. A waiting append is rejected. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      this.#roomWaiter?.reject(new Error('Spool closed while an append waited for room'));
      this.#roomWaiter = undefined;
      await Promise.allSettled([this.#appends, this.#reads, this.#journalWrites]);
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

  /** Runs `task` after the earlier tasks of its lane; a failed task does not block the lane. */
  #serial<T>(lane: 'appends' | 'reads' | 'journalWrites', task: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new Error('Spool is closed'));
    const previous = lane === 'appends' ? this.#appends : lane === 'reads' ? this.#reads : this.#journalWrites;
    // A system error anywhere below is a SpoolIoError by the time it leaves the spool.
    const run = previous.then(task).catch((error: unknown) => {
      throw spoolIoError(error, this.#dir);
    });
    const settled = run.catch(() => {});
    if (lane === 'appends') this.#appends = settled;
    else if (lane === 'reads') this.#reads = settled;
    else this.#journalWrites = settled;
    return run;
  }

  async #append(records: readonly SpoolRecord[]): Promise<number> {
    let index = 0;
    let payloadBytes = 0;
    while (index < records.length) {
      const group = this.#stage(records, index, this.#maxBytes - this.#bytesStored);
      if (group.end === index) {
        // Not even the first record fits: wait for acknowledgements to free room.
        await this.#room();
        continue;
      }
      await this.#writeStaged(group);
      payloadBytes += group.payloadBytes;
      index = group.end;
    }
    return payloadBytes;
  }

  /** Resolves when an acknowledgement freed room (or rejects when the spool closes). */
  #room(): Promise<void> {
    return new Promise((resolve, reject) => {
      // close() may have run between append() and this wait: it would never see this waiter.
      if (this.#closed) {
        reject(new Error('Spool closed while an append waited for room'));
        return;
      }
      this.#roomWaiter = { resolve, reject };
      this.#onFull?.();
    });
  }

  /**
   * Frames records[from, …) as one group in the staging buffer, as many as
   * fit in `room` bytes of payload (and in one unit, and one table): strings
   * are encoded and small Buffers copied one after another; large Buffers
   * are left where they are, as pieces of their own for writev; the table of
   * lengths goes last. One pass, no Buffer per record.
   */
  #stage(records: readonly SpoolRecord[], from: number, room: number): StagedGroup {
    const pieces: Buffer[] = [];
    const entries = this.#entries;
    let staging: Buffer = this.#staging;
    let sliceStart = 0;
    let filled = UNIT_HEADER;
    /** Bytes of large records passed beside the staging buffer. */
    let besideBytes = 0;
    let payloadBytes = 0;
    let count = 0;
    let cuts = 0;
    let index = from;
    for (; index < records.length && count < MAX_GROUP_ENTRIES; index++) {
      const record = records[index]!;
      if (record === CUT) {
        entries[count++] = CUT_ENTRY;
        cuts++;
        continue;
      }
      const text = typeof record === 'string';
      const copied = text || record.length <= COPY_LIMIT;
      const bound = filled + (text ? record.length * 3 : record.length);
      if (copied && bound > staging.length) staging = this.#grow(bound);
      const length = text ? staging.write(record, filled) : record.length;
      // What does not fit waits for the next group (room) or the next unit (MAX_LENGTH, with the table); nothing is staged for it yet.
      const unitBytes = filled - UNIT_HEADER + besideBytes + length + ENTRY_BYTES * (count + 2);
      if (length > room - payloadBytes || (index > from && unitBytes > MAX_LENGTH)) break;
      if (copied) {
        if (!text) staging.set(record, filled);
        filled += length;
      } else {
        pieces.push(staging.subarray(sliceStart, filled), record as Buffer);
        sliceStart = filled;
        besideBytes += length;
      }
      entries[count++] = length;
      payloadBytes += length;
    }
    const tableBytes = ENTRY_BYTES * (count + 1);
    if (filled + tableBytes > staging.length) staging = this.#grow(filled + tableBytes);
    const view = new DataView(staging.buffer, staging.byteOffset, staging.length);
    for (let entry = 0; entry < count; entry++) view.setUint32(filled + entry * ENTRY_BYTES, entries[entry]!, true);
    view.setUint32(filled + count * ENTRY_BYTES, count, true);
    filled += tableBytes;
    pieces.push(staging.subarray(sliceStart, filled));
    return { end: index, pieces, payloadBytes, recordCount: count - cuts, cuts, count };
  }

  /** A larger staging buffer holding what is staged so far. */
  #grow(bytes: number): Buffer {
    const larger = Buffer.allocUnsafe(Math.max(bytes, this.#staging.length * 2));
    this.#staging.copy(larger);
    this.#staging = larger;
    return larger;
  }

  /** One writev of a staged group; its crc32 is chained over the pieces: one call per piece, not per record. */
  async #writeStaged(group: StagedGroup): Promise<void> {
    const { pieces, payloadBytes, recordCount, cuts } = group;
    let crc = 0;
    let byteLength = 0;
    for (const [index, piece] of pieces.entries()) {
      crc = crc32(index === 0 ? piece.subarray(UNIT_HEADER) : piece, crc);
      byteLength += piece.length;
    }
    writeUnitHeader(pieces[0]!, 0, byteLength - UNIT_HEADER, true, crc);
    const start = this.#segments.end;
    await this.#segments.append(pieces, byteLength, this.#segmentBytes, () => {
      this.#bytesStored += payloadBytes;
      this.#unreadBytes += payloadBytes;
      this.#unreadRecords += recordCount;
      this.#unreadCuts += cuts;
    });
    this.#recentTables.keep(start, byteLength, this.#entries, group.count);
    // Written from the staging buffer alone: kept for the reader (large records beside it are not).
    if (pieces.length === 1) this.#staging = this.#recent.keep(start, pieces[0]!, this.#staging);
  }

  async #nextBatch(into: Buffer, partial: boolean): Promise<SpooledBatch | undefined> {
    const old = this.#resend.shift();
    if (old) {
      const bytes = old.bytes <= into.length ? into.subarray(0, old.bytes) : Buffer.allocUnsafe(old.bytes);
      const records = await this.#readFixed(old, bytes);
      return { sequence: old.sequence, offset: old.offset, key: this.#key(old.sequence), bytes, records };
    }
    const cutAnyway = partial || this.full;
    // Without a reason to cut short, wait until a batch can be cut: no reading twice.
    if (!cutAnyway && this.#unreadCuts === 0 && this.#unreadBytes < into.length) return undefined;
    const limit = this.#segments.end;
    const start = this.#state.read;
    const draft: BatchDraft = { start, startGroup: this.#readGroup, position: start, group: this.#readGroup, filled: 0, records: [] };
    let step: DraftStep;
    for (;;) {
      step = await this.#walkGroup(draft, into, limit);
      if (step === 'more') continue;
      if (step === 'cut') {
        this.#unreadCuts--;
        // A CUT with nothing before it cuts nothing.
        if (draft.records.length === 0) {
          draft.start = draft.position;
          draft.startGroup = draft.group;
          this.#state.read = draft.position;
          this.#readGroup = draft.group;
          continue;
        }
      }
      break;
    }
    const { position, filled, records, own } = draft;
    // 'end': the stored records ran out (rather than a CUT or a full `into` ending the batch).
    if (!own && (records.length === 0 || (step === 'end' && !cutAnyway && filled < into.length))) {
      // Nothing to cut yet: leave the records for a later call.
      return undefined;
    }
    this.#unreadBytes -= own ? own.length : filled;
    this.#unreadRecords -= records.length;
    const bytes = own ?? into.subarray(0, filled);
    const batch: FixedBatch = {
      sequence: this.#state.nextSequence,
      offset: this.#state.nextOffset,
      from: draft.start,
      to: position,
      fromGroup: draft.startGroup,
      bytes: bytes.length,
      records: records.length,
    };
    this.#state.nextSequence++;
    this.#state.nextOffset += batch.bytes;
    this.#state.read = batch.to;
    this.#readGroup = draft.group;
    this.#state.open.set(batch.sequence, batch);
    this.#recent.dropBefore(batch.to);
    this.#recentTables.dropBefore(batch.to);
    await this.#serial('journalWrites', async () => {
      await this.#journal.append({ t: 'fix', ...batch }, true);
      await this.#journal.compactIfLarge(this.#state);
    });
    return { sequence: batch.sequence, offset: batch.offset, key: this.#key(batch.sequence), bytes, records };
  }

  /**
   * Takes records of the draft's group into the batch: their bytes are one
   * run, read into `into` with one copy. 'more' when the group ran out (the
   * draft then points at the next group), 'end' when no group follows yet. A
   * record larger than `into` travels alone in its own Buffer.
   */
  async #walkGroup(draft: BatchDraft, into: Buffer, limit: number): Promise<DraftStep> {
    if (draft.group >= limit) return 'end';
    const group = await this.#groupAt(draft.group);
    let index = entryIndex(group, draft.position);
    if (index === group.count) {
      // After the last record (a position an earlier run may have left): the next group's start says the same.
      draft.group = group.end;
      draft.position = group.end;
      return group.end >= limit ? 'end' : 'more';
    }
    const entries = group.entries;
    const runFrom = group.start + UNIT_HEADER + recordBytesBefore(entries, index);
    let runBytes = 0;
    let step: DraftStep = 'more';
    for (; index < group.count; index++) {
      const entry = entries[index]!;
      if (entry === CUT_ENTRY) {
        index++;
        step = 'cut';
        break;
      }
      if (draft.records.length === 0 && entry > into.length) {
        draft.own = Buffer.allocUnsafe(entry);
        await this.#readStored(draft.own, 0, entry, runFrom);
        draft.records.push(entry);
        index++;
        step = 'full';
        break;
      }
      if (draft.filled + runBytes + entry > into.length) {
        step = 'full';
        break;
      }
      runBytes += entry;
      draft.records.push(entry);
    }
    if (runBytes > 0) await this.#readStored(into, draft.filled, runBytes, runFrom);
    draft.filled += runBytes;
    if (index < group.count) {
      draft.position = group.tableStart + index * ENTRY_BYTES;
    } else {
      // A batch that ends with its group ends at the next group's start, so the group counts as read whole (segments go).
      draft.group = group.end;
      draft.position = group.end;
      if (step === 'more' && group.end >= limit) step = 'end';
    }
    return step;
  }

  /** The group at stream position `start`: the one last loaded, or read (header, count, table) from memory or disk. */
  async #groupAt(start: number): Promise<LoadedGroup> {
    if (this.#loaded?.start === start) return this.#loaded;
    this.#loaded = await this.#loadGroup(start);
    return this.#loaded;
  }

  async #loadGroup(start: number): Promise<LoadedGroup> {
    const kept = this.#recentTables.get(start);
    if (kept) return kept;
    try {
      const unit = readUnitHeader(await readExactly(this.#stored, UNIT_HEADER, start), 0);
      if (!unit?.group) throw new FrameError(start, 'bad header');
      return await readGroupAt(this.#stored, start, unit.length);
    } catch (error) {
      throw this.#corrupt(error, start);
    }
  }

  /** The stored stream as a ByteSource (memory, then segment files); a short read throws. */
  readonly #stored: ByteSource = {
    read: async (target, offset, count, position) => {
      await this.#readStored(target, offset, count, position);
      return count;
    },
  };

  /** Reads `count` stored bytes at stream `position` into `target` (across segment files). */
  async #readStored(target: Buffer, offset: number, count: number, position: number): Promise<void> {
    for (let done = this.#recent.read(target, offset, count, position); done < count;) {
      const read = await this.#segments.read(target, offset + done, count - done, position + done);
      if (read === 0) throw this.#corrupt(new FrameError(position + done, 'short payload'), position);
      done += read;
    }
  }

  /**
   * Reads a fixed batch's records into `target`; returns their lengths. The
   * groups they are in were checked at open; the journal's sizes are checked here.
   */
  async #readFixed(batch: FixedBatch, target: Buffer): Promise<number[]> {
    const records: number[] = [];
    let filled = 0;
    let group = batch.fromGroup;
    let position = batch.from;
    while (position !== batch.to) {
      if (group >= this.#segments.end) throw new SpoolCorruptError(join(this.#dir, 'journal'), 0, `batch ${batch.sequence} ends past the records`);
      const loaded = await this.#loadGroup(group);
      const first = entryIndex(loaded, position);
      const last = batch.to >= loaded.tableStart && batch.to < loaded.end ? entryIndex(loaded, batch.to) : loaded.count;
      let bytes = 0;
      for (let index = first; index < last; index++) {
        const entry = loaded.entries[index]!;
        if (entry === CUT_ENTRY) continue;
        records.push(entry);
        bytes += entry;
      }
      if (filled + bytes > target.length)
        throw new SpoolCorruptError(join(this.#dir, 'journal'), 0, `batch ${batch.sequence} holds more than ${batch.bytes} bytes`);
      await this.#readStored(target, filled, bytes, loaded.start + UNIT_HEADER + recordBytesBefore(loaded.entries, first));
      filled += bytes;
      position = last === loaded.count && batch.to !== loaded.tableStart + last * ENTRY_BYTES ? loaded.end : batch.to;
      group = loaded.end;
    }
    if (filled !== batch.bytes || records.length !== batch.records) {
      throw new SpoolCorruptError(
        join(this.#dir, 'journal'),
        0,
        `batch ${batch.sequence} holds ${filled} bytes in ${records.length} records, the journal says ${batch.bytes} in ${batch.records}`,
      );
    }
    return records;
  }

  /** Takes an open batch out of the spool's books (acknowledged or set aside). */
  #take(sequence: number): FixedBatch {
    const batch = this.#state.open.get(sequence);
    if (!batch) throw new RangeError(`No open batch with sequence ${sequence} in the spool`);
    this.#state.open.delete(sequence);
    const waiting = this.#resend.findIndex((old) => old.sequence === sequence);
    if (waiting >= 0) this.#resend.splice(waiting, 1);
    return batch;
  }

  /** After a batch left: frees its room, deletes the segments behind every open batch, compacts the journal. */
  async #release(batch: FixedBatch): Promise<void> {
    this.#bytesStored -= batch.bytes;
    await this.#deleteAcknowledged(true);
    await this.#journal.compactIfLarge(this.#state);
    const waiter = this.#roomWaiter;
    this.#roomWaiter = undefined;
    waiter?.resolve();
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

  #key(sequence: number): string {
    return `${this.#state.uploadId}-${sequence}`;
  }

  /** A frame that does not check out while the spool runs: name its segment file and offset. */
  #corrupt(error: unknown, position: number): unknown {
    if (!(error instanceof FrameError)) return error;
    const segment = this.#segments.segments.findLast((candidate) => candidate.start <= error.position);
    const file = segment?.path ?? this.#dir;
    return new SpoolCorruptError(file, error.position - (segment?.start ?? 0), `${error.reason} (stream position ${position})`);
  }
}

interface OpenedParts {
  lock: SpoolLock;
  segments: SegmentStore;
  journal: Journal;
  state: JournalState;
  unread: Unread;
}

function resolveSpoolOptions(options: SpoolOptions): Required<Omit<SpoolOptions, 'onFull'>> & Pick<SpoolOptions, 'onFull'> {
  const { segmentBytes: segmentOption, onFull, ...settings } = options;
  const { dir, maxBytes, fsync, allowUnsafeDirectory } = resolveSpoolSettings(settings);
  const segmentBytes = segmentOption ?? Math.min(MAX_SEGMENT_BYTES, Math.max(1, Math.floor(maxBytes / 8)));
  if (!Number.isSafeInteger(segmentBytes) || segmentBytes < 1) throw new RangeError(`spool.segmentBytes must be a positive integer, received ${segmentBytes}`);
  if (onFull !== undefined && typeof onFull !== 'function') throw new TypeError('spool.onFull must be a function');
  return { dir, maxBytes, fsync, segmentBytes, allowUnsafeDirectory, onFull };
}
