/**
 * The spool's append path: records are framed as one group per append
 * (frame.ts) in a staging buffer and written with one writev, so an append
 * costs one system call (and with fsync one fdatasync) however many records
 * it carries. It waits while the records would take the spool past maxBytes:
 * only acknowledgements free room.
 */
import { crc32 } from './checksum.js';
import type { SpoolCounts } from './counts.js';
import { CUT_ENTRY, ENTRY_BYTES, MAX_GROUP_ENTRIES, MAX_LENGTH, UNIT_HEADER, writeUnitHeader } from './frame.js';
import type { RecentGroups } from './recent-groups.js';
import type { RecentTables } from './recent-tables.js';
import type { SegmentStore } from './segments.js';

/** A batch boundary in `append()`: what `flush()` writes. */
export const CUT: unique symbol = Symbol('buffered-http-writable.spool.cut');

/** What `append()` takes: a record's bytes, a string (a record of UTF-8 text), or a batch boundary. */
export type SpoolRecord = Buffer | string | typeof CUT;

/** Records up to this size are copied into one staging buffer; larger ones go to writev as they are. */
const COPY_LIMIT = 16 << 10;

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

export interface SpoolWriterParts {
  maxBytes: number;
  segmentBytes: number;
  onFull?: () => void;
  segments: SegmentStore;
  counts: SpoolCounts;
  recent: RecentGroups;
  recentTables: RecentTables;
}

/** Appends groups of records to the segments; one append at a time (the caller's queue sees to that). */
export class SpoolWriter {
  readonly #maxBytes: number;
  readonly #segmentBytes: number;
  readonly #onFull: (() => void) | undefined;
  readonly #segments: SegmentStore;
  readonly #counts: SpoolCounts;
  /** What was written last is kept for the reader: a consumer that keeps up reads from memory. */
  readonly #recent: RecentGroups;
  readonly #recentTables: RecentTables;
  /** Table entries of the group being staged. */
  readonly #entries = new Uint32Array(MAX_GROUP_ENTRIES);
  #staging: Buffer = Buffer.allocUnsafe(64 << 10);
  #roomWaiter: { resolve(): void; reject(error: Error): void } | undefined;
  #closed = false;

  constructor(parts: SpoolWriterParts) {
    this.#maxBytes = parts.maxBytes;
    this.#segmentBytes = parts.segmentBytes;
    this.#onFull = parts.onFull;
    this.#segments = parts.segments;
    this.#counts = parts.counts;
    this.#recent = parts.recent;
    this.#recentTables = parts.recentTables;
  }

  /** True while an append waits for acknowledgements to free room. */
  get full(): boolean {
    return this.#roomWaiter !== undefined;
  }

  /** Writes the records as groups, as many per group as there is room for; resolves with their payload bytes. */
  async append(records: readonly SpoolRecord[]): Promise<number> {
    let index = 0;
    let payloadBytes = 0;
    while (index < records.length) {
      const group = this.#stage(records, index, this.#maxBytes - this.#counts.stored);
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

  /** An acknowledgement freed room: a waiting append tries again. */
  roomFreed(): void {
    const waiter = this.#roomWaiter;
    this.#roomWaiter = undefined;
    waiter?.resolve();
  }

  /** No append may wait any more: a waiting one is rejected, a later one refused before it waits. */
  close(): void {
    this.#closed = true;
    this.#roomWaiter?.reject(new Error('Spool closed while an append waited for room'));
    this.#roomWaiter = undefined;
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
    const counts = this.#counts;
    await this.#segments.append(pieces, byteLength, this.#segmentBytes, () => {
      counts.stored += payloadBytes;
      counts.unreadBytes += payloadBytes;
      counts.unreadRecords += recordCount;
      counts.unreadCuts += cuts;
    });
    this.#recentTables.keep(start, byteLength, this.#entries, group.count);
    // Written from the staging buffer alone: kept for the reader (large records beside it are not).
    if (pieces.length === 1) this.#staging = this.#recent.keep(start, pieces[0]!, this.#staging);
  }
}
