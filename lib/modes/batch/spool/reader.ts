/**
 * The spool's read side: the read cursor and the batches handed out. A batch
 * fixed by an earlier run and never acknowledged goes out first, byte for
 * byte; new batches are cut from the records after the cursor, and each one's
 * identity (sequence, offset, where its records lie) is in the journal before
 * it is handed out, so a restart resends it unchanged.
 */
import { join } from 'node:path';
import { SpoolCorruptError } from '../../../spool-errors.js';
import type { SpoolCounts } from './counts.js';
import { CUT_ENTRY, ENTRY_BYTES, FrameError, UNIT_HEADER, readExactly, readGroupAt, readUnitHeader, type ByteSource, type LoadedGroup } from './frame.js';
import { JOURNAL_FILE, type FixedBatch, type Journal, type JournalState } from './journal.js';
import type { RecentGroups } from './recent-groups.js';
import type { RecentTables } from './recent-tables.js';
import type { SegmentStore } from './segments.js';
import type { SerialQueue } from './serial-queue.js';

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

/** What a step of reading a batch found: go on, a CUT (consumed), the batch is full, or the stored records ended. */
type DraftStep = 'more' | 'cut' | 'full' | 'end';

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

export interface SpoolReaderParts {
  dir: string;
  segments: SegmentStore;
  journal: Journal;
  /** Journal entries are written in order: a batch's identity joins the acknowledgements' queue. */
  journalWrites: SerialQueue;
  state: JournalState;
  counts: SpoolCounts;
  /** The group the read position (`state.read`) lies in. */
  readGroup: number;
  recent: RecentGroups;
  recentTables: RecentTables;
}

/** Hands out batches; one read at a time (the caller's queue sees to that). */
export class SpoolReader {
  readonly #dir: string;
  readonly #segments: SegmentStore;
  readonly #journal: Journal;
  readonly #journalWrites: SerialQueue;
  readonly #state: JournalState;
  readonly #counts: SpoolCounts;
  /** Batches fixed by an earlier run, not yet handed out again, oldest first. */
  readonly #resend: FixedBatch[];
  /** The group the read position (`state.read`) lies in, and the last group loaded for reading. */
  #readGroup: number;
  #loaded: LoadedGroup | undefined;
  /** The last groups written, still in memory, and the tables of those further back: reading them needs no disk, or no small reads. */
  readonly #recent: RecentGroups;
  readonly #recentTables: RecentTables;

  constructor(parts: SpoolReaderParts) {
    this.#dir = parts.dir;
    this.#segments = parts.segments;
    this.#journal = parts.journal;
    this.#journalWrites = parts.journalWrites;
    this.#state = parts.state;
    this.#counts = parts.counts;
    this.#resend = [...parts.state.open.values()].sort((a, b) => a.sequence - b.sequence);
    this.#readGroup = parts.readGroup;
    this.#recent = parts.recent;
    this.#recentTables = parts.recentTables;
  }

  /** A batch left the spool (acknowledged or set aside): it is not resent. */
  forget(sequence: number): void {
    const waiting = this.#resend.findIndex((old) => old.sequence === sequence);
    if (waiting >= 0) this.#resend.splice(waiting, 1);
  }

  /**
   * The next batch (Spool.nextBatch says which); `cutAnyway` cuts one from
   * what there is when the records run out before `into` is full.
   */
  async next(into: Buffer, cutAnyway: boolean): Promise<SpooledBatch | undefined> {
    const old = this.#resend.shift();
    if (old) {
      const bytes = old.bytes <= into.length ? into.subarray(0, old.bytes) : Buffer.allocUnsafe(old.bytes);
      const records = await this.readFixed(old, bytes);
      return { sequence: old.sequence, offset: old.offset, key: this.key(old.sequence), bytes, records };
    }
    const counts = this.#counts;
    // Without a reason to cut short, wait until a batch can be cut: no reading twice.
    if (!cutAnyway && counts.unreadCuts === 0 && counts.unreadBytes < into.length) return undefined;
    const limit = this.#segments.end;
    const start = this.#state.read;
    const draft: BatchDraft = { start, startGroup: this.#readGroup, position: start, group: this.#readGroup, filled: 0, records: [] };
    let step: DraftStep;
    for (;;) {
      step = await this.#walkGroup(draft, into, limit);
      if (step === 'more') continue;
      if (step === 'cut') {
        counts.unreadCuts--;
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
    counts.unreadBytes -= own ? own.length : filled;
    counts.unreadRecords -= records.length;
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
    await this.#journalWrites.run(async () => {
      await this.#journal.append({ t: 'fix', ...batch }, true);
      await this.#journal.compactIfLarge(this.#state);
    });
    return { sequence: batch.sequence, offset: batch.offset, key: this.key(batch.sequence), bytes, records };
  }

  /** Idempotency-Key of a batch: the same after a restart. */
  key(sequence: number): string {
    return `${this.#state.uploadId}-${sequence}`;
  }

  /**
   * Reads a fixed batch's records into `target`; returns their lengths. The
   * groups they are in were checked at open; the journal's sizes are checked here.
   */
  async readFixed(batch: FixedBatch, target: Buffer): Promise<number[]> {
    const records: number[] = [];
    let filled = 0;
    let group = batch.fromGroup;
    let position = batch.from;
    while (position !== batch.to) {
      if (group >= this.#segments.end) throw this.#journalCorrupt(`batch ${batch.sequence} ends past the records`);
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
      if (filled + bytes > target.length) throw this.#journalCorrupt(`batch ${batch.sequence} holds more than ${batch.bytes} bytes`);
      await this.#readStored(target, filled, bytes, loaded.start + UNIT_HEADER + recordBytesBefore(loaded.entries, first));
      filled += bytes;
      position = last === loaded.count && batch.to !== loaded.tableStart + last * ENTRY_BYTES ? loaded.end : batch.to;
      group = loaded.end;
    }
    if (filled !== batch.bytes || records.length !== batch.records) {
      throw this.#journalCorrupt(
        `batch ${batch.sequence} holds ${filled} bytes in ${records.length} records, the journal says ${batch.bytes} in ${batch.records}`,
      );
    }
    return records;
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

  /** The journal and the records disagree: the journal is named, as in the checks at open. */
  #journalCorrupt(reason: string): SpoolCorruptError {
    return new SpoolCorruptError(join(this.#dir, JOURNAL_FILE), 0, reason);
  }

  /** A frame that does not check out while the spool runs: name its segment file and offset. */
  #corrupt(error: unknown, position: number): unknown {
    if (!(error instanceof FrameError)) return error;
    const segment = this.#segments.segments.findLast((candidate) => candidate.start <= error.position);
    const file = segment?.path ?? this.#dir;
    return new SpoolCorruptError(file, error.position - (segment?.start ?? 0), `${error.reason} (stream position ${position})`);
  }
}
