import { Transform, type TransformCallback } from 'node:stream';

/** More bytes arrived than the receiver takes. */
export class TooLargeError extends Error {
  override name = 'TooLargeError';
}

/**
 * Passes bytes on until more than `limit` have arrived, then fails with
 * `TooLargeError` instead of passing the chunk that goes over: what was passed
 * on never exceeds the limit. Placed after a gunzip, it also stops a small
 * compressed body that decodes to a huge one.
 */
export class ByteLimit extends Transform {
  #left: number;

  constructor(limit: number) {
    super();
    this.#left = limit;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#left -= chunk.length;
    if (this.#left < 0) callback(new TooLargeError('the body is larger than the limit'));
    else callback(null, chunk);
  }
}
