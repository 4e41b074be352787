import { SpoolCorruptError } from '../../../spool-errors.js';
import { onPath } from './files.js';
import { CUT_ENTRY, ENTRY_BYTES, FrameError, readGroupAt, scanFile, type ByteSource } from './frame.js';
import type { JournalState } from './journal.js';
import type { Segment, SegmentStore } from './segments.js';

/** What lies after the read cursor: payload bytes, records and CUT markers not yet in a batch; and the group the cursor is in. */
export interface Unread {
  bytes: number;
  records: number;
  cuts: number;
  /** Position of the group holding the read position (the read position itself when it is a group's start or the end). */
  readGroup: number;
}

/** Everything before this position is acknowledged: the oldest open batch's start, or the read cursor. */
export function releasedPosition(state: JournalState): number {
  let released = state.read;
  for (const batch of state.open.values()) released = Math.min(released, batch.from);
  return released;
}

/** What `checkSegments` found: what lies after the read cursor, and where the last segment's torn tail starts (its own offset). */
export interface CheckedSegments {
  unread: Unread;
  tornAt?: number;
}

/**
 * Open, before anything is written: checks that the segments not wholly
 * acknowledged follow one another, and checks the crc32 of every group in
 * them. Only the last segment's last group may be torn (cut short); a
 * whole group whose crc32 fails is damage wherever it is. The journal's
 * positions must fall on group or record boundaries and its batch sizes
 * must match the records. Returns what lies after the read cursor; sets
 * each open batch's `fromGroup`. Writes nothing: `repairSegments` does.
 */
export async function checkSegments(store: SegmentStore, state: JournalState, scratch: Buffer, journalPath: string): Promise<CheckedSegments> {
  const released = releasedPosition(state);
  // Wholly acknowledged segments are left out here and deleted by repairSegments.
  const acknowledged = store.segments.findIndex((segment) => segment.start + segment.length > released);
  const segments = acknowledged < 0 ? [] : store.segments.slice(acknowledged);
  if (segments.length === 0) {
    if (released !== state.read) throw new SpoolCorruptError(journalPath, 0, `open batches start at ${released} but no record segment holds them`);
    return { unread: { bytes: 0, records: 0, cuts: 0, readGroup: state.read } };
  }
  if (segments[0]!.start > released) {
    throw new SpoolCorruptError(segments[0]!.path, 0, `records from position ${released} to ${segments[0]!.start} are missing`);
  }
  for (let index = 0; index + 1 < segments.length; index++) {
    const segment = segments[index]!;
    const next = segments[index + 1]!;
    if (segment.start + segment.length !== next.start) {
      throw new SpoolCorruptError(segment.path, Math.min(segment.length, next.start - segment.start), `segment does not end where ${next.path} starts`);
    }
  }
  // Positions the journal names, each of which must be a record boundary (a group's start or a table entry);
  // payload bytes counted up to each, and the group each lies in.
  const boundaries = [...new Set([state.read, ...[...state.open.values()].flatMap((batch) => [batch.from, batch.to])])].sort((a, b) => a - b);
  const payloadAt = new Map<number, number>();
  const groupOf = new Map<number, number>();
  let nextBoundary = 0;
  let payload = 0;
  const unread: Unread = { bytes: 0, records: 0, cuts: 0, readGroup: state.read };
  let tornAt: number | undefined;
  const atBoundary = (position: number, group: number): void => {
    while (nextBoundary < boundaries.length && boundaries[nextBoundary]! <= position) {
      if (boundaries[nextBoundary] !== position) {
        throw new SpoolCorruptError(journalPath, 0, `journal position ${boundaries[nextBoundary]} is not a record boundary`);
      }
      payloadAt.set(position, payload);
      groupOf.set(position, group);
      nextBoundary++;
    }
  };
  for (const [index, segment] of segments.entries()) {
    const isLast = index === segments.length - 1;
    const source = fileSource(segment);
    // Tables are read through a window: a spool of one-record appends holds millions of small groups.
    const tables = windowed(source, Buffer.allocUnsafe(64 << 10), segment.length);
    let result;
    try {
      // From the segment's start: a batch may begin inside a group, and the crc covers the whole group.
      result = await scanFile(source, scratch, 0, segment.length, isLast, async (position, header) => {
        if (!header.group) throw new FrameError(position, 'bad header');
        const groupStart = segment.start + position;
        // The group's crc32 held: its table is read once more, from the file, and checked against its length.
        const { count, tableStart, entries } = await readGroupAt(tables, position, header.length);
        atBoundary(groupStart, groupStart);
        for (let entry = 0; entry <= count; entry++) {
          const entryPosition = segment.start + tableStart + entry * ENTRY_BYTES;
          atBoundary(entryPosition, groupStart);
          if (entry === count) break;
          const word = entries[entry]!;
          if (word !== CUT_ENTRY) payload += word;
          if (entryPosition < state.read) continue;
          if (word === CUT_ENTRY) unread.cuts++;
          else {
            unread.records++;
            unread.bytes += word;
          }
        }
      });
    } catch (error) {
      if (error instanceof FrameError) throw new SpoolCorruptError(segment.path, error.position, `record group: ${error.reason}`);
      throw error;
    }
    if (result.torn) tornAt = result.end;
  }
  const last = segments.at(-1)!;
  const end = last.start + (tornAt ?? last.length);
  atBoundary(end, end);
  if (nextBoundary < boundaries.length) {
    throw new SpoolCorruptError(journalPath, 0, `journal names position ${boundaries[nextBoundary]}, past the records' end ${end}`);
  }
  unread.readGroup = groupOf.get(state.read)!;
  for (const batch of state.open.values()) batch.fromGroup = groupOf.get(batch.from)!;
  for (const batch of state.open.values()) {
    if (payloadAt.get(batch.to)! - payloadAt.get(batch.from)! !== batch.bytes) {
      throw new SpoolCorruptError(
        journalPath,
        0,
        `batch ${batch.sequence} spans ${payloadAt.get(batch.to)! - payloadAt.get(batch.from)!} bytes of records, the journal says ${batch.bytes}`,
      );
    }
  }
  return tornAt === undefined ? { unread } : { unread, tornAt };
}

/** Open, once everything checked out: deletes the segments wholly acknowledged and cuts the torn tail. */
export async function repairSegments(store: SegmentStore, state: JournalState, checked: CheckedSegments): Promise<void> {
  await store.deleteBefore(releasedPosition(state), false);
  if (store.segments.length === 0) store.emptyEnd = state.read;
  else if (checked.tornAt !== undefined) await store.truncateLast(checked.tornAt);
}

/** `source` read through `window`: reads that fall in the last window filled are copies, not syscalls. */
function windowed(source: ByteSource, window: Buffer, end: number): ByteSource {
  let start = 0;
  let length = 0;
  return {
    async read(target, offset, count, position) {
      if (count > window.length) return source.read(target, offset, count, position);
      if (position < start || position + count > start + length) {
        start = position;
        length = await source.read(window, 0, Math.min(window.length, end - position), position);
      }
      const available = Math.max(0, Math.min(count, start + length - position));
      window.copy(target, offset, position - start, position - start + available);
      return available;
    },
  };
}

function fileSource(segment: Segment): ByteSource {
  return {
    read: async (target, offset, length, position) => (await onPath(segment.path, () => segment.handle!.read(target, offset, length, position))).bytesRead,
  };
}
