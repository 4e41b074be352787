import { createHash, type Hash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/** node:crypto's names of the hashes the CLI prints: `--sha256`, and the algorithm of `--digest`. */
export type HashName = 'sha256' | 'sha512';

/** Each asked hash of everything updated, by name. */
export type Digests = Partial<Record<HashName, Buffer>>;

/**
 * The hashes the CLI prints (`--sha256`, `--digest`): on a worker thread
 * where a second CPU exists, so hashing (about 1 s of CPU per GiB and hash)
 * runs beside the sending instead of before it; on the main thread
 * otherwise, where a thread would only add its start-up and the copies. One
 * pass feeds every hash asked for, so two cost one copy.
 */
export interface Hasher {
  /**
   * Hashes `bytes`, which the caller may reuse as soon as this returns (a
   * worker gets a copy). A promise means the worker is behind: wait for it
   * before the next update, so copies cannot pile up.
   */
  update(bytes: Uint8Array): Promise<void> | undefined;
  /** Every hash of everything updated; ends the worker. */
  digest(): Promise<Digests>;
  /** Ends the worker without a digest (the upload failed). */
  close(): void;
}

export function createHasher(names: readonly HashName[], threads = availableParallelism()): Hasher {
  return threads > 1 ? new WorkerHasher(names) : new InlineHasher(names);
}

class InlineHasher implements Hasher {
  readonly #hashes: Array<[HashName, Hash]>;

  constructor(names: readonly HashName[]) {
    this.#hashes = names.map((name) => [name, createHash(name)]);
  }

  update(bytes: Uint8Array): undefined {
    for (const [, hash] of this.#hashes) hash.update(bytes);
    return undefined;
  }

  digest(): Promise<Digests> {
    return Promise.resolve(Object.fromEntries(this.#hashes.map(([name, hash]) => [name, hash.digest()])));
  }

  close(): void {}
}

/** Copies the worker may hold before `update` asks the caller to wait: a few pool buffers' worth. */
const MAX_QUEUED_BYTES = 4 * 1024 * 1024;

// CommonJS run with `eval`: no file to find, from dist/ or from the sources under test.
const THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const hashes = workerData.map((name) => createHash(name));
parentPort.on('message', (bytes) => {
  if (bytes === 'digest') parentPort.postMessage(hashes.map((hash) => hash.digest()));
  else {
    for (const hash of hashes) hash.update(bytes);
    parentPort.postMessage(bytes.length);
  }
});
`;

class WorkerHasher implements Hasher {
  readonly #names: readonly HashName[];
  readonly #worker: Worker;
  #queuedBytes = 0;
  #failure: Error | undefined;
  /** Resolves the caller's wait once the queue is short again. */
  #drained: (() => void) | undefined;
  #answer: { resolve: (digests: Uint8Array[]) => void; reject: (error: Error) => void } | undefined;

  constructor(names: readonly HashName[]) {
    this.#names = names;
    this.#worker = new Worker(THREAD, { eval: true, workerData: names });
    // Never what keeps the process alive: a failed upload ends without a digest.
    this.#worker.unref();
    this.#worker.on('message', (message: number | Uint8Array[]) => {
      if (typeof message !== 'number') {
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

  async digest(): Promise<Digests> {
    if (this.#failure) throw this.#failure;
    const answer = new Promise<Uint8Array[]>((resolve, reject) => (this.#answer = { resolve, reject }));
    this.#worker.postMessage('digest');
    try {
      const digests = await answer;
      // A Buffer crosses the thread as a plain Uint8Array.
      return Object.fromEntries(this.#names.map((name, index) => [name, Buffer.from(digests[index]!)]));
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
