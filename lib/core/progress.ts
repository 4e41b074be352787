import type { ProgressSnapshot, TusChecksum } from '../types.js';

/**
 * The upload's counters. One owner (the upload session) changes them, from
 * what the filler reports (bytes written) and what the transport reports
 * (bytes sent and acknowledged); the snapshot is what events and errors carry.
 */
export class Progress {
  bytesWritten = 0;
  bytesSent = 0;
  bytesAcknowledged = 0;
  batchesSent?: number;
  batchesAcknowledged?: number;
  uploadUrl?: string;
  concurrency?: number;
  bytesFromSpool?: number;
  checksum?: TusChecksum;
  /** Acknowledged ranges beyond the contiguous prefix (batch with concurrency): offset → size. */
  readonly #acknowledgedAhead = new Map<number, number>();
  /** Upload offset of this process's first byte: a spool goes on from where an earlier run stopped. */
  #origin = 0;

  /** batch: batches are counted. */
  readonly countsBatches: boolean;

  constructor(countsBatches: boolean) {
    this.countsBatches = countsBatches;
    if (countsBatches) {
      this.batchesSent = 0;
      this.batchesAcknowledged = 0;
    }
  }

  /** Records that `[offset, offset + size)` is acknowledged; `bytesAcknowledged` is the contiguous prefix. */
  acknowledge(offset: number, size: number): void {
    if (offset !== this.#origin + this.bytesAcknowledged) {
      this.#acknowledgedAhead.set(offset, size);
      return;
    }
    let prefix = offset + size;
    for (let next = this.#acknowledgedAhead.get(prefix); next !== undefined; next = this.#acknowledgedAhead.get(prefix)) {
      this.#acknowledgedAhead.delete(prefix);
      prefix += next;
    }
    this.bytesAcknowledged = prefix - this.#origin;
    // What the server holds was sent, whatever the transport reported first.
    if (this.bytesSent < this.bytesAcknowledged) this.bytesSent = this.bytesAcknowledged;
  }

  /** Before the first send: the upload offset this process starts from (0 without a spool). */
  startAt(offset: number): void {
    this.#origin = offset;
  }

  snapshot(): ProgressSnapshot {
    const snapshot: ProgressSnapshot = {
      bytesWritten: this.bytesWritten,
      bytesSent: this.bytesSent,
      bytesAcknowledged: this.bytesAcknowledged,
    };
    if (this.batchesSent !== undefined) snapshot.batchesSent = this.batchesSent;
    if (this.batchesAcknowledged !== undefined) snapshot.batchesAcknowledged = this.batchesAcknowledged;
    if (this.uploadUrl !== undefined) snapshot.uploadUrl = this.uploadUrl;
    if (this.concurrency !== undefined) snapshot.concurrency = this.concurrency;
    if (this.bytesFromSpool !== undefined) snapshot.bytesFromSpool = this.bytesFromSpool;
    if (this.checksum !== undefined) snapshot.checksum = { ...this.checksum };
    return snapshot;
  }
}
