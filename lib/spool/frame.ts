import { crc32 } from 'node:zlib';

/**
 * One stored unit, in the record segments and in the journal alike:
 *
 * ```
 * u32 LE word    bit 31: CUT marker (a batch boundary), bits 0..30: payload length
 * u32 LE check   word XOR HEADER_MAGIC: a damaged length is caught before it is trusted
 * u32 LE crc32   of the payload (zlib.crc32)
 * payload
 * ```
 *
 * The header check matters for telling a torn tail from damage: a frame whose
 * header checks out but whose payload runs past the end of the last file was
 * being written when the process died; a damaged length would otherwise look
 * the same and silently cut good data after it.
 */
export const HEADER_BYTES = 12;
const HEADER_MAGIC = 0x5350_4f4c; // "SPOL": an all-zero header does not check out
const CUT_FLAG = 0x8000_0000;
/** Largest payload a frame can carry (31-bit length). */
export const MAX_PAYLOAD = 0x7fff_ffff;

export interface FrameHeader {
  /** Payload bytes. */
  length: number;
  cut: boolean;
  crc: number;
}

/** Writes the header of a frame carrying `payload` (or of a CUT marker) at `offset`. */
export function writeHeader(target: Buffer, offset: number, payload: Buffer | undefined): void {
  const length = payload?.length ?? 0;
  const word = payload ? length : CUT_FLAG;
  target.writeUInt32LE(word, offset);
  target.writeUInt32LE((word ^ HEADER_MAGIC) >>> 0, offset + 4);
  target.writeUInt32LE(payload && length > 0 ? crc32(payload) : 0, offset + 8);
}

/** The header at `offset`, or undefined when it does not check out. */
export function readHeader(source: Buffer, offset: number): FrameHeader | undefined {
  const word = source.readUInt32LE(offset);
  if (((word ^ HEADER_MAGIC) >>> 0) !== source.readUInt32LE(offset + 4)) return undefined;
  const cut = (word & CUT_FLAG) !== 0;
  const length = word & MAX_PAYLOAD;
  if (cut && length !== 0) return undefined;
  return { length, cut, crc: source.readUInt32LE(offset + 8) };
}

/** One framed unit encoded whole (journal entries: small, written one at a time). */
export function encodeFrame(payload: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  writeHeader(frame, 0, payload);
  payload.copy(frame, HEADER_BYTES);
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
   * The header of the frame at the cursor, not consumed; undefined when fewer
   * than a header's bytes remain before `limit`. Throws FrameError when the
   * header does not check out.
   */
  async peek(limit: number): Promise<FrameHeader | undefined> {
    if (limit - this.position < HEADER_BYTES) {
      if (limit > this.position) throw new FrameError(this.position, 'short header');
      return undefined;
    }
    await this.#ensure(HEADER_BYTES, limit);
    const header = readHeader(this.#scratch, this.position - this.#windowStart);
    if (!header) throw new FrameError(this.position, 'bad header');
    if (this.position + HEADER_BYTES + header.length > limit) {
      throw new FrameError(this.position, 'short payload', this.position + HEADER_BYTES + header.length);
    }
    return header;
  }

  /**
   * `peek()` without a wait: the header when it and its payload are already
   * in the scratch and check out, else undefined (then call `peek()`, which
   * reads, and reports what is wrong). Millions of small records are read
   * this way without a promise each.
   */
  peekBuffered(limit: number): FrameHeader | undefined {
    const from = this.position - this.#windowStart;
    if (from < 0 || from + HEADER_BYTES > this.#windowLength) return undefined;
    const header = readHeader(this.#scratch, from);
    if (!header) return undefined;
    const end = this.position + HEADER_BYTES + header.length;
    if (end > limit || end > this.#windowStart + this.#windowLength) return undefined;
    return header;
  }

  /** `take()` without a check of the crc, for a frame `peekBuffered()` returned. */
  takeBuffered(header: FrameHeader, target?: Buffer, targetOffset = 0): void {
    const from = this.position - this.#windowStart + HEADER_BYTES;
    if (target && header.length > 0) this.#scratch.copy(target, targetOffset, from, from + header.length);
    this.position += HEADER_BYTES + header.length;
  }

  /**
   * Consumes the frame whose header `peek()` returned: copies its payload to
   * `target` at `targetOffset` when given, checks its crc32 when `verify`.
   */
  async take(header: FrameHeader, limit: number, verify: boolean, target?: Buffer, targetOffset = 0): Promise<void> {
    const start = this.position;
    let position = start + HEADER_BYTES;
    const end = position + header.length;
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
    if (verify && header.length > 0 && crc !== header.crc) throw new FrameError(start, 'bad checksum', end);
    this.position = end;
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
 * Checks every frame of one file from `from` to `fileEnd`, handing each to
 * `onFrame` (with its payload when `withPayload`). A frame that does not
 * check out is a torn tail only in the last file of its kind and only where
 * a dying append leaves one: a header cut short, a payload running past the
 * end, a bad checksum on the very last frame, or zeros to the end (a file
 * extended but never written, after a power loss). Anything else is damage:
 * the FrameError is thrown with the position in the file.
 */
export async function scanFile(
  source: ByteSource,
  scratch: Buffer,
  from: number,
  fileEnd: number,
  isLast: boolean,
  onFrame: (position: number, header: FrameHeader, payload: Buffer | undefined) => void,
  withPayload = false,
): Promise<ScanResult> {
  const cursor = new FrameCursor(source, scratch, from);
  for (;;) {
    const position = cursor.position;
    try {
      const header = await cursor.peek(fileEnd);
      if (!header) return { end: position, torn: false };
      const payload = withPayload ? Buffer.allocUnsafe(header.length) : undefined;
      await cursor.take(header, fileEnd, true, payload);
      onFrame(position, header, payload);
    } catch (error) {
      if (!(error instanceof FrameError)) throw error;
      if (isLast && (await isTornTail(source, scratch, error, fileEnd))) return { end: position, torn: true };
      throw error;
    }
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
  for (let position = from; position < to; ) {
    const read = await source.read(scratch, 0, Math.min(scratch.length, to - position), position);
    if (read === 0) return false;
    for (let index = 0; index < read; index++) if (scratch[index] !== 0) return false;
    position += read;
  }
  return true;
}
