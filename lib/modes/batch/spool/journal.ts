import { randomUUID } from 'node:crypto';
import { rename, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { SpoolCorruptError, SpoolIoError } from '../../../spool-errors.js';
import { createExclusive, onPath, openExisting, removeIfPresent, writeFully, writeFullySync } from './files.js';
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
  /** Runs that ended with the server refusing this batch (a later `fix` of the same sequence says it anew). */
  failedRuns?: number;
}

/** The input the spool's records come from (`spool.input`), and the upload offset its first byte has. */
export interface InputMark {
  id: string;
  from: number;
}

type Entry =
  | { t: 'start'; uploadId: string; sequence: number; offset: number; read: number; input?: InputMark }
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
  input?: InputMark;
}

/** The journal as `Journal.read()` found it. */
export interface JournalFound {
  path: string;
  /** Open read-write, when the file exists. */
  handle?: FileHandle;
  size: number;
  /** One past the last whole entry: a torn tail after it is cut when the spool opens. */
  end: number;
  state?: JournalState;
}

/**
 * The batch journal: an append-only file of framed JSON entries. `start`
 * opens it (the upload id, where the counters stand, the input the records
 * come from), `fix` records a batch's identity before it is first sent (and
 * again, with `failedRuns`, after a run its refusal ended), `ack`/`aside`
 * close it. It is rewritten with only the open batches once it grows past
 * 1 MiB, or when the input changes (written aside, then renamed over, so a
 * crash leaves the old or the new one whole).
 *
 * The input and the failure count are fields of `start` and `fix`, not
 * entries of their own: a version that does not know them reads the journal
 * as before (it drops unknown kinds of entry as damage, but not unknown fields).
 */
export class Journal {
  readonly #dir: string;
  readonly #path: string;
  readonly #fsync: boolean;
  #handle: FileHandle;
  #size: number;

  private constructor(dir: string, fsync: boolean, handle: FileHandle, size: number) {
    this.#dir = dir;
    this.#path = join(dir, JOURNAL_FILE);
    this.#fsync = fsync;
    this.#handle = handle;
    this.#size = size;
  }

  /**
   * Reads the journal without writing anything: what it says, and where its
   * torn tail starts. `state` is undefined when it is missing or holds no
   * whole `start` entry (a new spool, or one torn while being created).
   */
  static async read(dir: string, scratch: Buffer): Promise<JournalFound> {
    const path = join(dir, JOURNAL_FILE);
    let handle: FileHandle;
    try {
      handle = await openExisting(path);
    } catch (error) {
      if (error instanceof SpoolIoError && error.systemCode === 'ENOENT') return { path, size: 0, end: 0 };
      throw error;
    }
    try {
      const { size } = await onPath(path, () => handle.stat());
      const replayed = await replay(path, handle, size, scratch);
      return replayed ? { path, handle, size, end: replayed.end, state: replayed.state } : { path, handle, size, end: 0 };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /**
   * Opens the journal `read()` found, once the whole spool checked out: cuts
   * its torn tail, or starts a new journal with a new upload id. A compaction
   * a crash interrupted (journal.next) is dropped: the journal is still whole.
   */
  static async open(dir: string, fsync: boolean, found: JournalFound): Promise<{ journal: Journal; state: JournalState; created: boolean }> {
    const { path, handle, state } = found;
    await removeIfPresent(join(dir, COMPACTED_FILE));
    if (handle && state) {
      if (found.end < found.size) await onPath(path, () => handle.truncate(found.end));
      return { journal: new Journal(dir, fsync, handle, found.end), state, created: false };
    }
    await handle?.close();
    await removeIfPresent(path);
    const fresh: JournalState = { uploadId: randomUUID(), nextSequence: 0, nextOffset: 0, read: 0, open: new Map() };
    const journal = new Journal(dir, fsync, await createExclusive(path), 0);
    try {
      await journal.append(startEntry(fresh), true);
      if (fsync) await onPath(dir, () => syncDirectory(dir));
    } catch (error) {
      await journal.close();
      throw error;
    }
    return { journal, state: fresh, created: true };
  }

  /** Appends one entry; with fsync and `sync`, returns once it is on disk. */
  async append(entry: Entry, sync: boolean): Promise<void> {
    const frame = encodeFrame(Buffer.from(JSON.stringify(entry)));
    // An entry is ~100 bytes into the page cache: written here, in microseconds,
    // rather than through libuv's thread pool, whose round trip costs more than
    // the write (two entries a batch: with 1 MiB batches, that showed).
    // The sync, which waits on the disk, stays off the event loop.
    try {
      writeFullySync(this.#handle.fd, this.#path, frame, this.#size);
    } catch (error) {
      // Cut what may have reached the file, so the next entry does not land after a partial one.
      await this.#handle.truncate(this.#size).catch(() => {});
      throw error;
    }
    this.#size += frame.length;
    if (sync && this.#fsync) await onPath(this.#path, () => this.#handle.datasync());
  }

  /** Makes every entry so far durable (with fsync). */
  async sync(): Promise<void> {
    if (this.#fsync) await onPath(this.#path, () => this.#handle.datasync());
  }

  /** Rewrites the journal as `state` alone when it has grown past its limit. */
  async compactIfLarge(state: JournalState): Promise<void> {
    if (this.#size >= COMPACT_AT) await this.rewrite(state);
  }

  /** Rewrites the journal as `state` alone (its `start` entry is the one home of the input). */
  async rewrite(state: JournalState): Promise<void> {
    const next = join(this.#dir, COMPACTED_FILE);
    const entries = [startEntry(state), ...[...state.open.values()].map((batch): Entry => ({ t: 'fix', ...batch }))];
    const bytes = Buffer.concat(entries.map((entry) => encodeFrame(Buffer.from(JSON.stringify(entry)))));
    await removeIfPresent(next);
    const handle = await createExclusive(next);
    try {
      await writeFully(handle, next, [bytes], 0);
      if (this.#fsync) await onPath(next, () => handle.datasync());
      await onPath(next, () => rename(next, this.#path));
    } catch (error) {
      await handle.close();
      throw error;
    }
    if (this.#fsync) await onPath(this.#dir, () => syncDirectory(this.#dir));
    await this.#handle.close();
    this.#handle = handle;
    this.#size = bytes.length;
  }

  async close(): Promise<void> {
    await this.#handle.close();
  }
}

function startEntry(state: JournalState): Entry {
  const entry: Entry = { t: 'start', uploadId: state.uploadId, sequence: state.nextSequence, offset: state.nextOffset, read: state.read };
  if (state.input) entry.input = state.input;
  return entry;
}

/** Replays the journal; undefined when it holds no whole `start` entry (a new spool, or one torn while being created). */
async function replay(path: string, handle: FileHandle, size: number, scratch: Buffer): Promise<{ state: JournalState; end: number } | undefined> {
  const source: ByteSource = {
    read: async (target, offset, length, position) => (await onPath(path, () => handle.read(target, offset, length, position))).bytesRead,
  };
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
    const started: JournalState = { uploadId: entry.uploadId, nextSequence: entry.sequence, nextOffset: entry.offset, read: entry.read, open: new Map() };
    if (entry.input) started.input = { id: String(entry.input.id), from: entry.input.from };
    return started;
  }
  if (!state) throw new SpoolCorruptError(path, position, 'journal does not begin with a start entry');
  switch (entry.t) {
    case 'fix': {
      // fromGroup is checked (and found when missing) against the segments at open: recovery.ts.
      const { sequence, offset, from, to, bytes, records, fromGroup = from, failedRuns } = entry;
      // Compaction writes the still-open batches after `start`, so a fix may be behind the counters.
      const batch: FixedBatch = { sequence, offset, from, to, fromGroup, bytes, records };
      if (failedRuns) batch.failedRuns = failedRuns;
      state.open.set(sequence, batch);
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
