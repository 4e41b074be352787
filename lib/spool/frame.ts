import { crc32 } from 'node:zlib';

/**
 * Two kinds of framing. A **unit** is what carries a length and a crc32: a
 * journal entry, or a **group** of records (everything one `append()` wrote,
 * in one write). Inside a group each record (or CUT marker) has a small
 * header of its own, so batches can start and end at any record:
 *
 * ```
 * unit    u32 LE word    bit 30: group (records), bits 0..29: payload length
 *         u32 LE check   word XOR UNIT_MAGIC: a damaged length is caught before it is trusted
 *         u32 LE crc32   of the payload (zlib.crc32)
 *         payload        a journal entry, or the group's records:
 * record  u32 LE word    bit 31: CUT marker (a batch boundary, no payload), bits 0..29: length
 *         u32 LE check   word XOR RECORD_MAGIC
 *         bytes
 * ```
 *
 * One crc32 per append rather than per record: for 100-byte records the
 * per-call cost of zlib.crc32 was 40% of the append path. The unit is also
 * exactly what a dying process tears (its last write), which is what open()
 * cuts. The header check matters for telling a torn tail from damage: a unit
 * whose header checks out but whose payload runs past the end of the last
 * file was being written when the process died; a damaged length would
 * otherwise look the same and silently cut good data after it.
 */
export const UNIT_HEADER = 12;
export const RECORD_HEADER = 8;
const UNIT_MAGIC = 0x5350_4f4c; // "SPOL": an all-zero header does not check out
const RECORD_MAGIC = 0x5245_4344; // "RECD"
const CUT_FLAG = 0x8000_0000;
const GROUP_FLAG = 0x4000_0000;
/** Largest payload of a unit, and largest record. */
export const MAX_LENGTH = 0x3fff_ffff;

export interface UnitHeader {
  /** Payload bytes. */
  length: number;
  /** A group of records (segments) rather than a journal entry. */
  group: boolean;
  crc: number;
}

export interface RecordHeader {
  length: number;
  cut: boolean;
}

export function writeUnitHeader(target: Buffer, offset: number, length: number, group: boolean, crc: number): void {
  const word = (group ? GROUP_FLAG | length : length) >>> 0;
  target.writeUInt32LE(word, offset);
  target.writeUInt32LE((word ^ UNIT_MAGIC) >>> 0, offset + 4);
  target.writeUInt32LE(crc, offset + 8);
}

/** The unit header at `offset`, or undefined when it does not check out. */
export function readUnitHeader(source: Buffer, offset: number): UnitHeader | undefined {
  const word = source.readUInt32LE(offset);
  if ((word ^ UNIT_MAGIC) >>> 0 !== source.readUInt32LE(offset + 4) || (word & CUT_FLAG) !== 0) return undefined;
  return { length: word & MAX_LENGTH, group: (word & GROUP_FLAG) !== 0, crc: source.readUInt32LE(offset + 8) };
}

/** Writes the header of a record of `length` bytes (through a DataView: the staging loop writes millions). */
export function writeRecordLength(target: DataView, offset: number, length: number): void {
  target.setUint32(offset, length, true);
  target.setUint32(offset + 4, (length ^ RECORD_MAGIC) >>> 0, true);
}

/** Writes the header of a CUT marker (a batch boundary, no payload). */
export function writeCutHeader(target: DataView, offset: number): void {
  target.setUint32(offset, CUT_FLAG, true);
  target.setUint32(offset + 4, (CUT_FLAG ^ RECORD_MAGIC) >>> 0, true);
}

function readRecordHeader(source: Buffer, offset: number): RecordHeader | undefined {
  const word = source.readUInt32LE(offset);
  if ((word ^ RECORD_MAGIC) >>> 0 !== source.readUInt32LE(offset + 4) || (word & GROUP_FLAG) !== 0) return undefined;
  const cut = (word & CUT_FLAG) !== 0;
  const length = word & MAX_LENGTH;
  return cut && length !== 0 ? undefined : { length, cut };
}

/**
 * Why compactRecords() stopped: a CUT (consumed), a record that does not fit
 * `capacity`, a record whose payload runs past the bytes given (`split`: its
 * start is already in place), or a header running past them.
 */
export type CompactStop = 'cut' | 'full' | 'split' | 'short';

export interface Compacted {
  /** Frame bytes consumed from the run (a split record's header not included). */
  read: number;
  /** One past the last whole payload written. */
  written: number;
  stop: CompactStop;
  /** `split`: the record's length, and how many of its first bytes are already at `written`. */
  split?: { length: number; have: number };
}

/**
 * Turns a run of stored frames into record payloads, in place: `buffer[from,
 * from + count)` holds the frames at stream `position`; each record's payload
 * moves left over the headers before it (one copyWithin, no Buffer and no
 * object per record), starting at `from`, as long as it fits below
 * `capacity`. The lengths are pushed to `records`. Stops at a CUT (consumed),
 * at a record that would pass `capacity` (not consumed), or where the frames
 * run past the run (not consumed; a record's payload that started already
 * moved into place: `split`). Throws FrameError on a header that does not
 * check out.
 */
export function compactRecords(buffer: Buffer, from: number, count: number, capacity: number, position: number, records: number[]): Compacted {
  // A DataView reads the headers ~1.5× faster than Buffer#readUInt32LE, which checks bounds and argument types per call.
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.length);
  const end = from + count;
  let source = from;
  let written = from;
  let stop: CompactStop = 'short';
  while (end - source >= RECORD_HEADER) {
    const word = view.getUint32(source, true);
    if ((word & GROUP_FLAG) !== 0) {
      if (end - source < UNIT_HEADER) break;
      if (!readUnitHeader(buffer, source)) throw new FrameError(position + source - from, 'bad header');
      source += UNIT_HEADER;
      continue;
    }
    if ((word ^ RECORD_MAGIC) >>> 0 !== view.getUint32(source + 4, true)) throw new FrameError(position + source - from, 'bad header');
    const length = word & MAX_LENGTH;
    if ((word & CUT_FLAG) !== 0) {
      if (length !== 0) throw new FrameError(position + source - from, 'bad header');
      source += RECORD_HEADER;
      stop = 'cut';
      break;
    }
    if (written + length > capacity) {
      stop = 'full';
      break;
    }
    if (source + RECORD_HEADER + length > end) {
      // A record longer than the run (a large one, or cut by the run's end): what is here moves into place, the caller reads the rest.
      buffer.copyWithin(written, source + RECORD_HEADER, end);
      return { read: source - from, written, stop: 'split', split: { length, have: end - source - RECORD_HEADER } };
    }
    buffer.copyWithin(written, source + RECORD_HEADER, source + RECORD_HEADER + length);
    written += length;
    source += RECORD_HEADER + length;
    records.push(length);
  }
  return { read: source - from, written, stop };
}

/** One unit encoded whole (journal entries: small, written one at a time). */
export function encodeFrame(payload: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(UNIT_HEADER + payload.length);
  writeUnitHeader(frame, 0, payload.length, false, crc32(payload));
  payload.copy(frame, UNIT_HEADER);
  return frame;
}

/** Reads bytes at a position; returns how many it read (0 at the end). */
export interface ByteSource {
  read(target: Buffer, targetOffset: number, length: number, position: number): Promise<number>;
}

/** A frame that does not check out at `position` (the cursor's own position space). */
export class FrameError extends Error {
  constructor(
    readonly position: number,
    readonly reason: 'short header' | 'bad header' | 'short payload' | 'bad checksum',
    /** Where the frame would end, when its header checked out. */
    readonly frameEnd?: number,
  ) {
    super(`${reason} at ${position}`);
  }
}

/**
 * Reads frames one after another through a fixed scratch buffer, so memory
 * stays the scratch's size however large the spool: a spool is never read
 * into RAM whole, at open or later.
 */
export class FrameCursor {
  readonly #source: ByteSource;
  readonly #scratch: Buffer;
  /** Position of scratch[0], and how many bytes of scratch are valid. */
  #windowStart = 0;
  #windowLength = 0;
  position: number;

  constructor(source: ByteSource, scratch: Buffer, position = 0) {
    this.#source = source;
    this.#scratch = scratch;
    this.position = position;
  }

  seek(position: number): void {
    this.position = position;
  }

  /**
   * The unit header at the cursor, not consumed; undefined when fewer than a
   * header's bytes remain before `limit`. Throws FrameError when the header
   * does not check out or its payload runs past `limit`.
   */
  async peekUnit(limit: number): Promise<UnitHeader | undefined> {
    if (limit - this.position < UNIT_HEADER) {
      if (limit > this.position) throw new FrameError(this.position, 'short header');
      return undefined;
    }
    await this.#ensure(UNIT_HEADER, limit);
    const header = readUnitHeader(this.#scratch, this.position - this.#windowStart);
    if (!header) throw new FrameError(this.position, 'bad header');
    if (this.position + UNIT_HEADER + header.length > limit) {
      throw new FrameError(this.position, 'short payload', this.position + UNIT_HEADER + header.length);
    }
    return header;
  }

  /** Consumes the unit `peekUnit()` returned, checking its crc32; copies the payload to `target` when given. */
  async takeUnit(header: UnitHeader, limit: number, target?: Buffer): Promise<void> {
    const start = this.position;
    const crc = await this.#payload(start + UNIT_HEADER, header.length, limit, true, target, 0);
    const end = start + UNIT_HEADER + header.length;
    if (crc !== header.crc) throw new FrameError(start, 'bad checksum', end);
    this.position = end;
  }

  /**
   * The next record or CUT at the cursor, stepping into groups (their headers
   * are passed over: their crc was checked at open, or computed by this
   * process); undefined at `limit`. Throws FrameError on a header that does
   * not check out.
   */
  async peekRecord(limit: number): Promise<RecordHeader | undefined> {
    for (;;) {
      if (limit - this.position < RECORD_HEADER) {
        if (limit > this.position) throw new FrameError(this.position, 'short header');
        return undefined;
      }
      await this.#ensure(RECORD_HEADER, limit);
      const from = this.position - this.#windowStart;
      if ((this.#scratch.readUInt32LE(from) & GROUP_FLAG) !== 0) {
        if (limit - this.position < UNIT_HEADER) throw new FrameError(this.position, 'short header');
        await this.#ensure(UNIT_HEADER, limit);
        if (!readUnitHeader(this.#scratch, this.position - this.#windowStart)) throw new FrameError(this.position, 'bad header');
        this.position += UNIT_HEADER;
        continue;
      }
      const header = readRecordHeader(this.#scratch, from);
      if (!header) throw new FrameError(this.position, 'bad header');
      if (this.position + RECORD_HEADER + header.length > limit) throw new FrameError(this.position, 'short payload');
      return header;
    }
  }

  /** Consumes a record `peekRecord()` returned, reading it into `target` when given (else it is skipped unread). */
  async takeRecord(header: RecordHeader, limit: number, target?: Buffer, targetOffset = 0): Promise<void> {
    if (target) await this.#payload(this.position + RECORD_HEADER, header.length, limit, false, target, targetOffset);
    this.position += RECORD_HEADER + header.length;
  }

  /** Reads `length` bytes at `start` (into `target` when given); returns their crc32 when `verify`. */
  async #payload(start: number, length: number, limit: number, verify: boolean, target: Buffer | undefined, targetOffset: number): Promise<number> {
    let position = start;
    const end = start + length;
    let crc = 0;
    while (position < end) {
      const windowEnd = this.#windowStart + this.#windowLength;
      let piece: Buffer;
      if (position >= this.#windowStart && position < windowEnd) {
        const from = position - this.#windowStart;
        piece = this.#scratch.subarray(from, from + Math.min(end, windowEnd) - position);
        if (target) target.set(piece, targetOffset);
      } else if (target && end - position >= this.#scratch.length) {
        // A large payload goes straight to its destination, not through the scratch.
        piece = target.subarray(targetOffset, targetOffset + end - position);
        await this.#readFully(piece, position);
      } else {
        await this.#ensure(Math.min(end - position, this.#scratch.length), limit, position);
        continue;
      }
      if (verify) crc = crc32(piece, crc);
      position += piece.length;
      targetOffset += piece.length;
    }
    return crc;
  }

  /** Makes `[position, position + count)` available in the scratch. */
  async #ensure(count: number, limit: number, position = this.position): Promise<void> {
    const windowEnd = this.#windowStart + this.#windowLength;
    if (position >= this.#windowStart && position + count <= windowEnd) return;
    const length = Math.min(this.#scratch.length, limit - position);
    const read = await this.#fill(this.#scratch.subarray(0, length), position);
    this.#windowStart = position;
    this.#windowLength = read;
    if (read < count) throw new FrameError(position, 'short payload');
  }

  async #fill(target: Buffer, position: number): Promise<number> {
    let done = 0;
    while (done < target.length) {
      const read = await this.#source.read(target, done, target.length - done, position + done);
      if (read === 0) break;
      done += read;
    }
    return done;
  }

  async #readFully(target: Buffer, position: number): Promise<void> {
    if ((await this.#fill(target, position)) < target.length) throw new FrameError(position, 'short payload');
  }
}

export interface ScanResult {
  /** One past the last whole, checked frame: where the file is cut when it has a torn tail. */
  end: number;
  /** True when bytes after `end` were a torn tail. */
  torn: boolean;
}

/**
 * Checks every unit of one file from `from` to `fileEnd`, handing each to
 * `onUnit` (with its payload when `withPayload`). A unit that does not check
 * out is a torn tail only in the last file of its kind and only where a
 * dying append leaves one: a header cut short, a payload running past the
 * end, a bad checksum on the very last unit, or zeros to the end (a file
 * extended but never written, after a power loss). Anything else is damage:
 * the FrameError is thrown with the position in the file.
 */
export async function scanFile(
  source: ByteSource,
  scratch: Buffer,
  from: number,
  fileEnd: number,
  isLast: boolean,
  onUnit: (position: number, header: UnitHeader, payload: Buffer | undefined) => void | Promise<void>,
  withPayload = false,
): Promise<ScanResult> {
  const cursor = new FrameCursor(source, scratch, from);
  for (;;) {
    const position = cursor.position;
    let header: UnitHeader | undefined;
    let payload: Buffer | undefined;
    try {
      header = await cursor.peekUnit(fileEnd);
      if (!header) return { end: position, torn: false };
      payload = withPayload ? Buffer.allocUnsafe(header.length) : undefined;
      await cursor.takeUnit(header, fileEnd, payload);
    } catch (error) {
      if (!(error instanceof FrameError)) throw error;
      if (isLast && (await isTornTail(source, scratch, error, fileEnd))) return { end: position, torn: true };
      throw error;
    }
    await onUnit(position, header, payload);
  }
}

async function isTornTail(source: ByteSource, scratch: Buffer, error: FrameError, fileEnd: number): Promise<boolean> {
  switch (error.reason) {
    case 'short header':
    case 'short payload':
      return true;
    case 'bad checksum':
      return error.frameEnd === fileEnd;
    case 'bad header':
      return allZero(source, scratch, error.position, fileEnd);
  }
}

async function allZero(source: ByteSource, scratch: Buffer, from: number, to: number): Promise<boolean> {
  for (let position = from; position < to;) {
    const read = await source.read(scratch, 0, Math.min(scratch.length, to - position), position);
    if (read === 0) return false;
    for (let index = 0; index < read; index++) if (scratch[index] !== 0) return false;
    position += read;
  }
  return true;
}
