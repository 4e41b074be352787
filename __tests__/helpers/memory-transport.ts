import got from 'got';
import { BufferedWritableCore, type CoreOptions } from '../../lib/core/writable.js';
import type { SendInfo, Transport, TransportReports } from '../../lib/modes/transport.js';
import type { UploadResponse } from '../../lib/types.js';

/** One send as the in-memory transport received it. */
export interface MemorySend {
  /** A copy of the bytes: the core may reuse its buffer once the send resolves. */
  bytes: Buffer;
  /** The Buffer the transport was handed, as it is: tells whether the core copied a write. */
  handed: Buffer;
  info: SendInfo;
  /** Lets the transport let go of the bytes (acknowledges them). */
  release(): void;
}

/**
 * A transport that keeps every send in memory and lets the test decide when
 * each is let go of: tests the core's contract (backpressure, exact fill,
 * flush ordering, the failure route) at unit speed, with no HTTP at all.
 */
export class MemoryTransport implements Transport {
  readonly maxInFlight: number;
  readonly keepsWritesWhole: boolean;
  readonly checksTotalLength = false;
  readonly sends: MemorySend[] = [];
  reports!: TransportReports;
  ended = false;
  aborts = 0;
  /** Release every send at once (the default), or hold them for the test. */
  autoRelease: boolean;
  readonly #sendListeners = new Set<() => void>();

  constructor({ maxInFlight = 1, keepsWritesWhole = false, autoRelease = true } = {}) {
    this.maxInFlight = maxInFlight;
    this.keepsWritesWhole = keepsWritesWhole;
    this.autoRelease = autoRelease;
  }

  send(bytes: Buffer, info: SendInfo): Promise<void> {
    return new Promise((resolve) => {
      const send: MemorySend = {
        bytes: Buffer.from(bytes),
        handed: bytes,
        info,
        release: () => {
          this.reports.acknowledged(info.offset, bytes.length);
          resolve();
        },
      };
      this.sends.push(send);
      this.reports.sent(bytes.length);
      for (const listener of this.#sendListeners) listener();
      if (this.autoRelease) send.release();
    });
  }

  async end(totalBytes: number): Promise<UploadResponse> {
    this.ended = true;
    return { statusCode: 200, headers: {}, body: `received ${totalBytes}` };
  }

  abort(): void {
    this.aborts++;
  }

  /** Resolves once the transport holds `count` sends. */
  sendsReach(count: number): Promise<void> {
    if (this.sends.length >= count) return Promise.resolve();
    return new Promise((resolve) => {
      const listener = (): void => {
        if (this.sends.length < count) return;
        this.#sendListeners.delete(listener);
        resolve();
      };
      this.#sendListeners.add(listener);
    });
  }

  /** The bytes of every send, in order. */
  received(): Buffer {
    return Buffer.concat(this.sends.map((send) => send.bytes));
  }
}

/** A Writable core over a MemoryTransport. */
export function memoryWritable(
  options: Partial<CoreOptions> & { highWaterMark: number },
  transport = new MemoryTransport(),
): { upload: BufferedWritableCore; transport: MemoryTransport } {
  // No diagnostics `upload`: nothing is published.
  const context = { credentials: [], got, diagnostics: { mode: 'stream' as const, url: '', concurrency: 1 } };
  const upload = new BufferedWritableCore({ mode: 'stream', ...options }, context, (_options, _context, reports) => {
    transport.reports = reports;
    return transport;
  });
  return { upload, transport };
}
