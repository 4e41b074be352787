import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import type { Hasher } from './hasher.js';

/** The input ended before the bytes to skip were all read. */
export class ShortInputError extends Error {
  override name = 'ShortInputError';
}

/**
 * Hashes and counts the bytes flowing through it, so the digest is of exactly
 * what went on to the next stage. With `skip`, the first `skip` bytes are
 * dropped unhashed: stdin resuming a tus upload starts at the server's offset.
 */
export class Sha256Transform extends Transform {
  /** Undefined with `hash: false`: bytes are counted and skipped, not hashed here. */
  readonly #hash: Hash | undefined;
  /** Given, it hashes what is passed on (off the main thread, say), and the caller asks it for the digest. */
  readonly #hasher: Hasher | undefined;
  /** Bytes passed on. */
  bytes = 0;
  #skip: number;

  constructor({ skip = 0, hash = true, hasher }: { skip?: number; hash?: boolean; hasher?: Hasher | undefined } = {}) {
    super();
    this.#skip = skip;
    this.#hasher = hasher;
    if (hash && !hasher) this.#hash = createHash('sha256');
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.#skip >= chunk.length) {
      this.#skip -= chunk.length;
      callback();
      return;
    }
    const rest = this.#skip > 0 ? chunk.subarray(this.#skip) : chunk;
    this.#skip = 0;
    this.#hash?.update(rest);
    this.bytes += rest.length;
    const behind = this.#hasher?.update(rest);
    if (behind) void behind.then(() => callback(null, rest));
    else callback(null, rest);
  }

  // Failing here keeps the end from reaching the upload: a tus upload with a
  // deferred length would otherwise be declared complete at the wrong length.
  override _flush(callback: TransformCallback): void {
    callback(this.#skip > 0 ? new ShortInputError(`input ended ${this.#skip} bytes short of the resume offset`) : null);
  }

  /** Hex sha256 of what was passed on (only when hashing). */
  digest(): string {
    if (!this.#hash) throw new Error('Sha256Transform: created with hash: false, there is no digest');
    return this.#hash.digest('hex');
  }
}
