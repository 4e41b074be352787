/** The figures carried by every `'progress'` event and every error. */
export interface ProgressSnapshot {
  /** Bytes accepted by `write()`. */
  bytesWritten: number;
  /** Bytes handed to the socket: an upper bound on what the server received. */
  bytesSent: number;
  /** Bytes the server confirmed with a 2xx (batch: the contiguous prefix). */
  bytesAcknowledged: number;
  /** batch: batches handed to the network (retries not counted twice). */
  batchesSent?: number;
  /** batch: batches the server answered 2xx. */
  batchesAcknowledged?: number;
  /** tus: the upload URL, once the server created it. */
  uploadUrl?: string;
}

/**
 * The upload's counters, shared by the Writable core (which counts what is
 * written) and the transport (which counts what is sent and acknowledged).
 * `changed()` reports a new snapshot; it is called per buffer, never per write.
 */
export class Progress {
  bytesWritten = 0;
  bytesSent = 0;
  bytesAcknowledged = 0;
  batchesSent?: number;
  batchesAcknowledged?: number;
  uploadUrl?: string;
  readonly #onChange: (snapshot: ProgressSnapshot) => void;

  constructor(onChange: (snapshot: ProgressSnapshot) => void) {
    this.#onChange = onChange;
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
    return snapshot;
  }

  /** Call after updating the counters to emit one `'progress'` event. */
  changed(): void {
    this.#onChange(this.snapshot());
  }
}
