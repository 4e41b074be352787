import { open, readdir, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { SpoolUnsafeError } from '../../../spool-errors.js';
import { createExclusive, onPath, openExisting, writeFully } from './files.js';
import type { ByteSource } from './frame.js';

/** `seg-<position of its first byte, 20 digits>.log`: names sort in position order. */
const SEGMENT_NAME = /^seg-(\d{20})\.log$/;

export function segmentName(start: number): string {
  return `seg-${String(start).padStart(20, '0')}.log`;
}

/** One segment file: frames from `start` (a position in the spool's frame stream) for `length` bytes. */
export interface Segment {
  readonly start: number;
  length: number;
  readonly path: string;
  handle?: FileHandle;
}

/**
 * The record segments: one append-only stream of frames cut into files, so
 * that acknowledged data goes as whole files (unlink) instead of rewriting.
 * Positions are offsets in that stream; a segment's file name is the
 * position of its first byte, so a position finds its file without an index.
 */
export class SegmentStore implements ByteSource {
  readonly #dir: string;
  readonly #fsync: boolean;
  readonly #segments: Segment[];

  private constructor(dir: string, fsync: boolean, segments: Segment[]) {
    this.#dir = dir;
    this.#fsync = fsync;
    this.#segments = segments;
  }

  /** Lists the segment files (their sizes as found; `scan` decides what in them is valid). */
  static async open(dir: string, fsync: boolean): Promise<SegmentStore> {
    const segments: Segment[] = [];
    try {
      for (const entry of await onPath(dir, () => readdir(dir, { withFileTypes: true }))) {
        const match = SEGMENT_NAME.exec(entry.name);
        if (!match) continue;
        const path = join(dir, entry.name);
        // A symlink or a directory under a segment's name is not skipped: its name would be taken when the spool gets there.
        if (!entry.isFile()) throw new SpoolUnsafeError(path, 'is named like a record segment but is not a regular file');
        const segment: Segment = { start: Number(match[1]), length: 0, path, handle: await openExisting(path) };
        segments.push(segment);
        segment.length = (await onPath(path, () => segment.handle!.stat())).size;
      }
    } catch (error) {
      for (const segment of segments) await segment.handle?.close();
      throw error;
    }
    segments.sort((a, b) => a.start - b.start);
    return new SegmentStore(dir, fsync, segments);
  }

  get segments(): readonly Segment[] {
    return this.#segments;
  }

  /** One past the last byte stored. */
  get end(): number {
    const last = this.#segments.at(-1);
    return last ? last.start + last.length : this.#emptyEnd;
  }

  /** Where the stream goes on when every segment has been deleted. */
  #emptyEnd = 0;

  set emptyEnd(position: number) {
    this.#emptyEnd = position;
  }

  async read(target: Buffer, targetOffset: number, length: number, position: number): Promise<number> {
    const segment = this.#find(position);
    if (!segment) return 0;
    const within = position - segment.start;
    const count = Math.min(length, segment.length - within);
    if (count <= 0) return 0;
    segment.handle ??= await openExisting(segment.path);
    const handle = segment.handle;
    const { bytesRead } = await onPath(segment.path, () => handle.read(target, targetOffset, count, within));
    return bytesRead;
  }

  /**
   * Appends `buffers` (one whole group) to the last segment with one writev, after
   * starting a new segment when the last one holds `rotateAt` bytes or more.
   * With fsync, one fdatasync; a new file also syncs the directory, or its
   * name could vanish with the data in it. `written` runs once the bytes are
   * readable.
   */
  async append(buffers: Buffer[], byteLength: number, rotateAt: number, written: () => void): Promise<void> {
    let last = this.#segments.at(-1);
    let created = false;
    if (!last || last.length >= rotateAt) {
      const start = this.end;
      const path = join(this.#dir, segmentName(start));
      last = { start, length: 0, path, handle: await createExclusive(path) };
      this.#segments.push(last);
      created = true;
    }
    const handle = last.handle!;
    try {
      await writeFully(handle, last.path, buffers, last.length);
    } catch (error) {
      // Cut what may have reached the file, so the next append does not land after a partial frame.
      await handle.truncate(last.length).catch(() => {});
      throw error;
    }
    if (this.#fsync) await onPath(last.path, () => handle.datasync());
    if (created && this.#fsync) await onPath(this.#dir, () => syncDirectory(this.#dir));
    // In the same tick as the caller's counters: a reader never sees the bytes without them.
    last.length += byteLength;
    written();
  }

  /** Cuts the last segment to `length` bytes (a torn tail found at open). */
  async truncateLast(length: number): Promise<void> {
    const last = this.#segments.at(-1)!;
    await onPath(last.path, () => last.handle!.truncate(length));
    last.length = length;
  }

  /**
   * Deletes the segments that end at or before `position`: everything in them
   * is acknowledged. `keepLast` while appends may run: one may be writing to it.
   */
  async deleteBefore(position: number, keepLast: boolean): Promise<number> {
    let deleted = 0;
    while (this.#segments.length > (keepLast ? 1 : 0) && this.#segments[0]!.start + this.#segments[0]!.length <= position) {
      const segment = this.#segments[0]!;
      // With the last one gone, the next segment starts where it ended: positions never go back.
      if (this.#segments.length === 1) this.#emptyEnd = segment.start + segment.length;
      this.#segments.shift();
      await segment.handle?.close();
      await unlink(segment.path);
      deleted++;
    }
    return deleted;
  }

  async close(): Promise<void> {
    for (const segment of this.#segments) {
      await segment.handle?.close();
      delete segment.handle;
    }
  }

  #find(position: number): Segment | undefined {
    // Few segments (maxBytes / segment size): a backwards walk finds the usual one, the reader's, fast.
    for (let index = this.#segments.length - 1; index >= 0; index--) {
      const segment = this.#segments[index]!;
      if (segment.start <= position) return position < segment.start + segment.length ? segment : undefined;
    }
    return undefined;
  }
}

/** fsync of a directory makes a created, renamed or removed name durable (Linux). */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
