import { randomUUID } from 'node:crypto';
import { writeSync } from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { SpoolCorruptError } from '../errors.js';
import { encodeFrame, FrameError, scanFile, type ByteSource } from './frame.js';
import { syncDirectory } from './segments.js';

export const JOURNAL_FILE = 'journal';
const COMPACTED_FILE = 'journal.next';
/** The journal is rewritten (open batches only) once it grows past this. */
const COMPACT_AT = 1 << 20;
/** A journal entry is a line of JSON; anything larger is damage, not an entry. */
const MAX_ENTRY = 1 << 16;

/** A batch whose identity is fixed: resent byte-identical until acknowledged or set aside. */
export interface FixedBatch {
  sequence: number;
  /** Upload byte offset of its first byte (Batch-Offset). */
  offset: number;
  /** Its records: [from, to) in the segments' position space (frame.ts: a record's position is its table entry's). */
  from: number;
  to: number;
  /** Position of the group `from` lies in (found again at open; kept so the batch can be read back without a search). */
  fromGroup: number;
  /** Payload bytes (the request body's length) and record count. */
  bytes: number;
  records: number;
}

type Entry =
  | { t: 'start'; uploadId: string; sequence: number; offset: number; read: number }
  | ({ t: 'fix' } & FixedBatch)
  | { t: 'ack'; sequence: number }
  | { t: 'aside'; sequence: number };

/** What the journal says: the upload's identity, where the next batch starts, and the batches still open. */
export interface JournalState {
  uploadId: string;
  nextSequence: number;
  nextOffset: number;
  /** Segment position after the last fixed batch: new batches are cut from here. */
  read: number;
  open: Map<number, FixedBatch>;
}

/**
 * The batch journal: an append-only file of framed JSON entries. `start`
 * opens it (the upload id and where the counters stand), `fix` records a
 * batch's identity before it is first sent, `ack`/`aside` close it. It is
 * rewritten with only the open batches once it grows past 1 MiB (written
 * aside, then renamed over, so a crash leaves the old or the new one whole).
 */
export class Journal {
  readonly #dir: string;
  readonly #fsync: boolean;
  #handle: FileHandle;
  #size: number;

  private constructor(dir: string, fsync: boolean, handle: FileHandle, size: number) {
    this.#dir = dir;
    this.#fsync = fsync;
    this.#handle = handle;
    this.#size = size;
  }

  /** Reads the journal (cutting a torn tail), or starts one with a new upload id. */
  static async open(dir: string, fsync: boolean, scratch: Buffer): Promise<{ journal: Journal; state: JournalState; created: boolean }> {
    await rm(join(dir, COMPACTED_FILE), { force: true });
    const path = join(dir, JOURNAL_FILE);
    const handle = await open(path, 'a+').then(async (created) => {
      // 'a+' creates it; positioned writes need a handle without O_APPEND.
      await created.close();
      return open(path, 'r+');
    });
    try {
      const { size } = await handle.stat();
      const state = await replay(path, handle, size, scratch);
      if (state) {
        if (state.end < size) await handle.truncate(state.end);
        return { journal: new Journal(dir, fsync, handle, state.end), state: state.state, created: false };
      }
      if (size > 0) await handle.truncate(0);
      const fresh: JournalState = { uploadId: randomUUID(), nextSequence: 0, nextOffset: 0, read: 0, open: new Map() };
      const journal = new Journal(dir, fsync, handle, 0);
      await journal.append(startEntry(fresh), true);
      if (fsync) await syncDirectory(dir);
      return { journal, state: fresh, created: true };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /** Appends one entry; with fsync and `sync`, returns once it is on disk. */
  async append(entry: Entry, sync: boolean): Promise<void> {
    const frame = encodeFrame(Buffer.from(JSON.stringify(entry)));
    // An entry is ~100 bytes into the page cache: written here, in microseconds,
    // rather than through libuv's thread pool, whose round trip costs more than
    // the write (two entries a batch: with 1 MiB batches, that showed).
    // The sync, which waits on the disk, stays off the event loop.
    const bytesWritten = writeSync(this.#handle.fd, frame, 0, frame.length, this.#size);
    if (bytesWritten !== frame.length) {
      await this.#handle.truncate(this.#size).catch(() => {});
      throw new Error(`short write to the spool journal: ${bytesWritten} of ${frame.length} bytes`);
    }
    this.#size += frame.length;
    if (sync && this.#fsync) await this.#handle.datasync();
  }

  /** Makes every entry so far durable (with fsync). */
  async sync(): Promise<void> {
    if (this.#fsync) await this.#handle.datasync();
  }

  /** Rewrites the journal as `state` alone when it has grown past its limit. */
  async compactIfLarge(state: JournalState): Promise<void> {
    if (this.#size < COMPACT_AT) return;
    const next = join(this.#dir, COMPACTED_FILE);
    const entries = [startEntry(state), ...[...state.open.values()].map((batch): Entry => ({ t: 'fix', ...batch }))];
    const bytes = Buffer.concat(entries.map((entry) => encodeFrame(Buffer.from(JSON.stringify(entry)))));
    const handle = await open(next, 'w+');
    try {
      await handle.write(bytes, 0, bytes.length, 0);
      if (this.#fsync) await handle.datasync();
    } catch (error) {
      await handle.close();
      throw error;
    }
    await rename(next, join(this.#dir, JOURNAL_FILE));
    if (this.#fsync) await syncDirectory(this.#dir);
    await this.#handle.close();
    this.#handle = handle;
    this.#size = bytes.length;
  }

  async close(): Promise<void> {
    await this.#handle.close();
  }
}

function startEntry(state: JournalState): Entry {
  return { t: 'start', uploadId: state.uploadId, sequence: state.nextSequence, offset: state.nextOffset, read: state.read };
}

/** Replays the journal; undefined when it holds no whole `start` entry (a new spool, or one torn while being created). */
async function replay(path: string, handle: FileHandle, size: number, scratch: Buffer): Promise<{ state: JournalState; end: number } | undefined> {
  const source: ByteSource = { read: async (target, offset, length, position) => (await handle.read(target, offset, length, position)).bytesRead };
  let state: JournalState | undefined;
  let result;
  try {
    result = await scanFile(
      source,
      scratch,
      0,
      size,
      true,
      (position, header, payload) => {
        if (header.group || header.length > MAX_ENTRY) throw new SpoolCorruptError(path, position, 'not a journal entry');
        state = apply(state, parseEntry(payload!, path, position), path, position);
      },
      true,
    );
  } catch (error) {
    if (error instanceof FrameError) throw new SpoolCorruptError(path, error.position, `journal entry: ${error.reason}`);
    throw error;
  }
  return state ? { state, end: result.end } : undefined;
}

function parseEntry(payload: Buffer, path: string, position: number): Entry {
  try {
    return JSON.parse(payload.toString('utf8')) as Entry;
  } catch {
    throw new SpoolCorruptError(path, position, 'journal entry is not JSON');
  }
}

function apply(state: JournalState | undefined, entry: Entry, path: string, position: number): JournalState {
  if (entry.t === 'start') {
    return { uploadId: entry.uploadId, nextSequence: entry.sequence, nextOffset: entry.offset, read: entry.read, open: new Map() };
  }
  if (!state) throw new SpoolCorruptError(path, position, 'journal does not begin with a start entry');
  switch (entry.t) {
    case 'fix': {
      // fromGroup is checked (and found when missing) against the segments at open: recovery.ts.
      const { sequence, offset, from, to, bytes, records, fromGroup = from } = entry;
      // Compaction writes the still-open batches after `start`, so a fix may be behind the counters.
      state.open.set(sequence, { sequence, offset, from, to, fromGroup, bytes, records });
      if (sequence >= state.nextSequence) {
        state.nextSequence = sequence + 1;
        state.nextOffset = offset + bytes;
        state.read = to;
      }
      return state;
    }
    case 'ack':
    case 'aside':
      state.open.delete(entry.sequence);
      return state;
    default:
      throw new SpoolCorruptError(path, position, 'unknown journal entry');
  }
}
