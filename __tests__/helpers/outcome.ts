/**
 * Runs an upload to its end and reports how it ended, for tests that assert
 * the outcome of a fault: the error (if any) and whether `'finish'` fired.
 * Invariant 2 is checked on every run: an upload ends in exactly one of
 * `'finish'` or `'error'`.
 */
import { pipeline } from 'node:stream/promises';
import type { BufferedHttpWritable } from '../../lib/index.js';
import { readableOf } from './data.js';

export interface Outcome {
  /** The pipeline's error; undefined when the upload finished. */
  error: (Error & Record<string, unknown>) | undefined;
  finished: boolean;
}

export async function runUpload(upload: BufferedHttpWritable, chunks: Array<Buffer | string>): Promise<Outcome> {
  let finished = false;
  upload.on('finish', () => (finished = true));
  const error = await pipeline(readableOf(chunks), upload).then(
    () => undefined,
    (reason: unknown) => reason as Error & Record<string, unknown>,
  );
  if (error && finished) throw new Error(`upload both finished and failed: ${error.message}`);
  if (!error && !finished) throw new Error('pipeline resolved without finish');
  return { error, finished };
}

/** Closes what a test opened, in reverse order, after each test. */
export class Closer {
  readonly #closers: Array<() => Promise<void> | void> = [];

  /** Registers `resource` for closing and returns it. */
  add<T extends { close(): Promise<void> | void }>(resource: T): T {
    this.#closers.push(() => resource.close());
    return resource;
  }

  async closeAll(): Promise<void> {
    for (const close of this.#closers.splice(0).reverse()) await close();
  }
}
