import { Transform, type TransformCallback } from 'node:stream';

const NEWLINE = 0x0a;

/**
 * Batch mode: re-cuts the input at newlines, so each chunk passed on holds
 * whole lines and at most `maxBytes` of them (a longer line goes alone).
 * The library never splits one `write()` across two batches, so every batch
 * then ends on a record boundary, as NDJSON ingest servers need. Memory
 * stays bounded: a line longer than `maxBytes` is passed on in pieces.
 */
export class RecordSplitter extends Transform {
  readonly #maxBytes: number;
  /** Bytes after the last newline seen, waiting for the rest of their line. */
  #partial: Buffer[] = [];
  #partialBytes = 0;

  constructor(maxBytes: number) {
    super();
    this.#maxBytes = maxBytes;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const last = chunk.lastIndexOf(NEWLINE);
    if (last === -1) {
      this.#partial.push(chunk);
      this.#partialBytes += chunk.length;
      // A line longer than a buffer cannot stay whole anyway: pass it on rather than hold it all in memory.
      if (this.#partialBytes >= this.#maxBytes) this.#pushPartial();
      callback();
      return;
    }
    const lines = Buffer.concat([...this.#partial, chunk.subarray(0, last + 1)]);
    this.#partial = [];
    this.#partialBytes = 0;
    this.#pushLines(lines);
    if (last + 1 < chunk.length) {
      this.#partial.push(chunk.subarray(last + 1));
      this.#partialBytes = chunk.length - last - 1;
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    this.#pushPartial();
    callback();
  }

  #pushPartial(): void {
    if (this.#partialBytes > 0) this.push(Buffer.concat(this.#partial));
    this.#partial = [];
    this.#partialBytes = 0;
  }

  /** Pushes `lines` (ending in a newline) in pieces of whole lines, each at most `maxBytes` when its lines allow. */
  #pushLines(lines: Buffer): void {
    let start = 0;
    while (lines.length - start > this.#maxBytes) {
      // The last newline within the limit ends this piece; without one, the first line goes alone.
      let end = lines.lastIndexOf(NEWLINE, start + this.#maxBytes - 1) + 1;
      if (end <= start) end = lines.indexOf(NEWLINE, start) + 1;
      this.push(lines.subarray(start, end));
      start = end;
    }
    if (start < lines.length) this.push(lines.subarray(start));
  }
}
