import { crc32 } from './checksum.js';

/**
 * Two kinds of framing. A **unit** is what carries a length and a crc32: a
 * journal entry, or a **group** of records (everything one `append()` wrote,
 * in one write). A group holds its records' bytes back to back, then a table
 * with one entry per record or CUT marker, then the entry count, so a batch
 * can start and end at any record and its body is one run of bytes:
 *
 * ```
 * unit    u32 LE word    bit 30: group (records), bits 0..29: payload length
 *         u32 LE check   word XOR UNIT_MAGIC: a damaged length is caught before it is trusted
 *         u32 LE crc32   of the payload (CRC-32 as zlib computes it: checksum.ts)
 *         payload        a journal entry, or the group:
 * group   bytes          the records, one after another
 *         u32 LE entry   per record: its length; per CUT marker (a batch boundary): bit 31
 *         u32 LE count   of entries
 * ```
 *
 * A record is addressed by the stream position of its entry (the count's
 * position stands for "after the last record"); a group's own position, that
 * of its unit header, stands for its first record.
 *
 * One crc32 per append rather than per record: for 100-byte records the
 * per-call cost of crc32 was 40% of the append path. The unit is also
 * exactly what a dying process tears (its last write), which is what open()
 * cuts. The header check matters for telling a torn tail from damage: a unit
 * whose header checks out but whose payload runs past the end of the last
 * file was being written when the process died; a damaged length would
 * otherwise look the same and silently cut good data after it. With the
 * records' bytes together, reading a batch back is one copy of a run, not a
 * copy per record.
 */
export const UNIT_HEADER = 12;
/** A group's table entry, and its count. */
export const ENTRY_BYTES = 4;
/** Entries in one group at most: the table a reader loads stays small (256 KiB). */
export const MAX_GROUP_ENTRIES = 1 << 16;
const UNIT_MAGIC = 0x5350_4f4c; // "SPOL": an all-zero header does not check out
const CUT_FLAG = 0x8000_0000;
const GROUP_FLAG = 0x4000_0000;
/** Largest payload of a unit, and largest record. */
export const MAX_LENGTH = 0x3fff_ffff;
/** A CUT marker's table entry. */
export const CUT_ENTRY = CUT_FLAG;

export interface UnitHeader {
  /** Payload bytes. */
  length: number;
  /** A group of records (segments) rather than a journal entry. */
  group: boolean;
  crc: number;
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

/**
 * A group's table, read from its last `4 × (count + 1)` bytes (`tail`, at
 * stream position `tailPosition`); `payloadLength` is the unit's. Checks that
 * the entries add up to the records' bytes before they are trusted.
 */
export function readGroupTable(tail: Buffer, tailPosition: number, payloadLength: number): Uint32Array {
  const view = new DataView(tail.buffer, tail.byteOffset, tail.length);
  const count = (tail.length - ENTRY_BYTES) / ENTRY_BYTES;
  const entries = new Uint32Array(count);
  let recordBytes = 0;
  for (let index = 0; index < count; index++) {
    const entry = view.getUint32(index * ENTRY_BYTES, true);
    if (entry !== CUT_ENTRY && (entry & ~MAX_LENGTH) !== 0) throw new FrameError(tailPosition + index * ENTRY_BYTES, 'bad header');
    entries[index] = entry;
    if (entry !== CUT_ENTRY) recordBytes += entry;
  }
  if (recordBytes + tail.length !== payloadLength) throw new FrameError(tailPosition, 'bad header');
  return entries;
}

/** The entry count at the end of a group's payload (`last4`: its last four bytes); throws when the table could not fit. */
export function readGroupCount(last4: Buffer, position: number, payloadLength: number): number {
  const count = last4.readUInt32LE(0);
  if (count > MAX_GROUP_ENTRIES || (count + 1) * ENTRY_BYTES > payloadLength) throw new FrameError(position, 'bad header');
  return count;
}

/** A group's table, loaded for reading: `entries[i]` is record i's length, or CUT_ENTRY. */
export interface LoadedGroup {
  start: number;
  /** One past its last byte: the next group's start. */
  end: number;
  /** Position of entry 0; entry i is at `tableStart + 4i`, and the count's position (i = count) means "after the last record". */
  tableStart: number;
  count: number;
  entries: Uint32Array;
}

/**
 * The table of the group whose unit header, at `start` in `source`, says
 * `payloadLength`: its count, then its entries, each checked before it is
 * trusted. Positions are `source`'s (a file's offsets, or the stream's).
 */
export async function readGroupAt(source: ByteSource, start: number, payloadLength: number): Promise<LoadedGroup> {
  const end = start + UNIT_HEADER + payloadLength;
  const countAt = end - ENTRY_BYTES;
  const count = readGroupCount(await readExactly(source, ENTRY_BYTES, countAt), countAt, payloadLength);
  const tableStart = countAt - count * ENTRY_BYTES;
  const entries = readGroupTable(await readExactly(source, (count + 1) * ENTRY_BYTES, tableStart), tableStart, payloadLength);
  return { start, end, tableStart, count, entries };
}

/** `length` bytes at `position`, or FrameError 'short payload'. */
export async function readExactly(source: ByteSource, length: number, position: number): Promise<Buffer> {
  const bytes = Buffer.allocUnsafe(length);
  if ((await source.read(bytes, 0, length, position)) !== length) throw new FrameError(position, 'short payload');
  return bytes;
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
    const crc = await this.#payload(start + UNIT_HEADER, header.length, limit, target);
    const end = start + UNIT_HEADER + header.length;
    if (crc !== header.crc) throw new FrameError(start, 'bad checksum', end);
    this.position = end;
  }

  /** Reads `length` bytes at `start` (into `target` when given); returns their crc32. */
  async #payload(start: number, length: number, limit: number, target: Buffer | undefined): Promise<number> {
    let targetOffset = 0;
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
      crc = crc32(piece, crc);
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
 * out is a torn tail only in the last file of its kind and only where it is
 * incomplete: a header cut short, a payload running past the end (shorter
 * than its header says), or zeros to the end (a file extended but never
 * written, after a power loss: no unit there at all). A whole unit whose
 * crc32 fails is damage even when it is the last: its bytes, and the
 * confirmed writes in them, cannot be told from what was written. Damage
 * throws the FrameError with the position in the file.
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
      return false;
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
