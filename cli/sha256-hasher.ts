import { createHash, type Hash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/**
 * The sha256 of `--sha256`: on a worker thread where a second CPU exists, so
 * hashing (about 1 s of CPU per GiB) runs beside the sending instead of
 * before it; on the main thread otherwise, where a thread would only add its
 * start-up and the copies.
 */
export interface Sha256Hasher {
  /**
   * Hashes `bytes`, which the caller may reuse as soon as this returns (a
   * worker gets a copy). A promise means the worker is behind: wait for it
   * before the next update, so copies cannot pile up.
   */
  update(bytes: Uint8Array): Promise<void> | undefined;
  /** Hex digest of everything updated; ends the worker. */
  digest(): Promise<string>;
  /** Ends the worker without a digest (the upload failed). */
  close(): void;
}

export function createSha256Hasher(threads = availableParallelism()): Sha256Hasher {
  return threads > 1 ? new WorkerHasher() : new InlineHasher();
}

class InlineHasher implements Sha256Hasher {
  readonly #hash: Hash = createHash('sha256');

  update(bytes: Uint8Array): undefined {
    this.#hash.update(bytes);
    return undefined;
  }

  digest(): Promise<string> {
    return Promise.resolve(this.#hash.digest('hex'));
  }

  close(): void {}
}

/** Copies the worker may hold before `update` asks the caller to wait: a few pool buffers' worth. */
const MAX_QUEUED_BYTES = 4 * 1024 * 1024;

// CommonJS run with `eval`: no file to find, from dist/ or from the sources under test.
const THREAD = `
const { parentPort } = require('node:worker_threads');
const hash = require('node:crypto').createHash('sha256');
parentPort.on('message', (bytes) => {
  if (bytes === 'digest') parentPort.postMessage(hash.digest('hex'));
  else {
    hash.update(bytes);
    parentPort.postMessage(bytes.length);
  }
});
`;

class WorkerHasher implements Sha256Hasher {
  readonly #worker = new Worker(THREAD, { eval: true });
  #queuedBytes = 0;
  #failure: Error | undefined;
  /** Resolves the caller's wait once the queue is short again. */
  #drained: (() => void) | undefined;
  #answer: { resolve: (digest: string) => void; reject: (error: Error) => void } | undefined;

  constructor() {
    // Never what keeps the process alive: a failed upload ends without a digest.
    this.#worker.unref();
    this.#worker.on('message', (message: number | string) => {
      if (typeof message === 'string') {
        this.#answer?.resolve(message);
        return;
      }
      this.#queuedBytes -= message;
      if (this.#queuedBytes <= MAX_QUEUED_BYTES) this.#release();
    });
    this.#worker.on('error', (error) => {
      this.#failure = error;
      this.#answer?.reject(error);
      this.#release();
    });
  }

  update(bytes: Uint8Array): Promise<void> | undefined {
    if (this.#failure) return undefined;
    // A copy of its own, moved to the worker (not copied again): the caller's buffer is reused at once.
    const copy = Uint8Array.prototype.slice.call(bytes);
    this.#worker.postMessage(copy, [copy.buffer]);
    this.#queuedBytes += copy.length;
    if (this.#queuedBytes <= MAX_QUEUED_BYTES) return undefined;
    return new Promise((resolve) => (this.#drained = resolve));
  }

  async digest(): Promise<string> {
    if (this.#failure) throw this.#failure;
    const digest = new Promise<string>((resolve, reject) => (this.#answer = { resolve, reject }));
    this.#worker.postMessage('digest');
    try {
      return await digest;
    } finally {
      this.close();
    }
  }

  close(): void {
    void this.#worker.terminate();
  }

  #release(): void {
    const drained = this.#drained;
    this.#drained = undefined;
    drained?.();
  }
}
