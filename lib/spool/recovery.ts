import { SpoolCorruptError } from '../errors.js';
import { FrameCursor, FrameError, UNIT_HEADER, scanFile, type ByteSource } from './frame.js';
import type { JournalState } from './journal.js';
import type { Segment, SegmentStore } from './segments.js';

/** What lies after the read cursor: payload bytes, records and CUT markers not yet in a batch. */
export interface Unread {
  bytes: number;
  records: number;
  cuts: number;
}

/** Everything before this position is acknowledged: the oldest open batch's start, or the read cursor. */
export function releasedPosition(state: JournalState): number {
  let released = state.read;
  for (const batch of state.open.values()) released = Math.min(released, batch.from);
  return released;
}

/**
 * Open: deletes segments wholly acknowledged, checks that the rest follow
 * one another, and checks the crc32 of every group in them (the last
 * segment's torn tail is cut). The journal's positions must fall on group or
 * record boundaries and its batch sizes must match the records. Returns what
 * lies after the read cursor.
 */
export async function checkSegments(store: SegmentStore, state: JournalState, scratch: Buffer, journalPath: string): Promise<Unread> {
  const released = releasedPosition(state);
  await store.deleteBefore(released, false);
  const segments = store.segments;
  if (segments.length === 0) {
    if (released !== state.read) throw new SpoolCorruptError(journalPath, 0, `open batches start at ${released} but no record segment holds them`);
    store.emptyEnd = state.read;
    return { bytes: 0, records: 0, cuts: 0 };
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
  // Positions the journal names, each of which must be a frame boundary; payload bytes counted up to each.
  const boundaries = [...new Set([state.read, ...[...state.open.values()].flatMap((batch) => [batch.from, batch.to])])].sort((a, b) => a - b);
  const payloadAt = new Map<number, number>();
  let nextBoundary = 0;
  let payload = 0;
  const unread: Unread = { bytes: 0, records: 0, cuts: 0 };
  const atBoundary = (position: number): void => {
    while (nextBoundary < boundaries.length && boundaries[nextBoundary]! <= position) {
      if (boundaries[nextBoundary] !== position) {
        throw new SpoolCorruptError(journalPath, 0, `journal position ${boundaries[nextBoundary]} is not a record boundary`);
      }
      payloadAt.set(position, payload);
      nextBoundary++;
    }
  };
  // Records are listed group by group with a second, smaller read buffer, after the group's crc32 held.
  const records = new FrameCursor(store, Buffer.allocUnsafe(64 << 10));
  for (const [index, segment] of segments.entries()) {
    const isLast = index === segments.length - 1;
    let result;
    try {
      // From the segment's start: a batch may begin inside a group, and the crc covers the whole group.
      result = await scanFile(fileSource(segment), scratch, 0, segment.length, isLast, async (position, header) => {
        if (!header.group) throw new FrameError(position, 'bad header');
        const groupStart = segment.start + position;
        const groupEnd = groupStart + UNIT_HEADER + header.length;
        atBoundary(groupStart);
        records.seek(groupStart + UNIT_HEADER);
        try {
          for (let record = await records.peekRecord(groupEnd); record; record = await records.peekRecord(groupEnd)) {
            const streamPosition = records.position;
            atBoundary(streamPosition);
            await records.takeRecord(record, groupEnd);
            payload += record.length;
            if (streamPosition < state.read) continue;
            if (record.cut) unread.cuts++;
            else {
              unread.records++;
              unread.bytes += record.length;
            }
          }
        } catch (error) {
          // Only a bug could get here (the group's crc32 held): say where all the same.
          if (error instanceof FrameError) throw new SpoolCorruptError(segment.path, error.position - segment.start, `record in a group: ${error.reason}`);
          throw error;
        }
      });
    } catch (error) {
      if (error instanceof FrameError) throw new SpoolCorruptError(segment.path, error.position, `record group: ${error.reason}`);
      throw error;
    }
    if (result.torn) await store.truncateLast(result.end);
  }
  atBoundary(store.end);
  if (nextBoundary < boundaries.length) {
    throw new SpoolCorruptError(journalPath, 0, `journal names position ${boundaries[nextBoundary]}, past the records' end ${store.end}`);
  }
  for (const batch of state.open.values()) {
    if (payloadAt.get(batch.to)! - payloadAt.get(batch.from)! !== batch.bytes) {
      throw new SpoolCorruptError(
        journalPath,
        0,
        `batch ${batch.sequence} spans ${payloadAt.get(batch.to)! - payloadAt.get(batch.from)!} bytes of records, the journal says ${batch.bytes}`,
      );
    }
  }
  return unread;
}

function fileSource(segment: Segment): ByteSource {
  return {
    read: async (target, offset, length, position) => (await segment.handle!.read(target, offset, length, position)).bytesRead,
  };
}
