/**
 * W2 small writes: `count` writes of ~100 B records straight into each peer's
 * writable, honouring backpressure (`write()` false → wait for `'drain'`), as
 * a producer loop does.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { RECORD_RING, makeRecords } from '../infra/records.js';
import type { DigestAlgorithm } from '../../lib/index.js';
import { bytesOf, httpAnswer, libraryOptions, readText } from './upload-peers.js';

export interface WriteSpec {
  url: string;
  count: number;
  kind: 'string' | 'buffer';
  /** This library's `highWaterMark`; its default when absent. */
  highWaterMark?: number;
  /** This library's `digest` option (off when absent). */
  digest?: DigestAlgorithm;
}

export const WRITE_PEERS = ['bhw', 'http.request', 'got.stream'] as const;
export type WritePeer = (typeof WRITE_PEERS)[number];

/** Returns the bytes the sink counted, and the bytes that were written. */
export async function smallWrites(peer: WritePeer, spec: WriteSpec): Promise<{ received: number; expected: number }> {
  const ring = makeRecords();
  const records: ReadonlyArray<string | Buffer> = spec.kind === 'string' ? ring.strings : ring.buffers;
  const expected = ring.totalBytes(spec.count);
  const writeAll = async (destination: Writable): Promise<void> => {
    for (let i = 0; i < spec.count; i++) {
      if (!destination.write(records[i % RECORD_RING]!)) await once(destination, 'drain');
    }
    destination.end();
  };
  switch (peer) {
    case 'bhw': {
      const { BufferedHttpWritable } = await import('../../lib/index.js');
      const destination = new BufferedHttpWritable(spec.url, libraryOptions(spec));
      await writeAll(destination);
      await finished(destination);
      return { received: bytesOf(destination.response!.body), expected };
    }
    case 'http.request': {
      const request = http.request(spec.url, { method: 'POST' });
      const answer = httpAnswer(request);
      await writeAll(request);
      return { received: bytesOf(await answer), expected };
    }
    case 'got.stream': {
      const { default: got } = await import('got');
      const stream = got.stream.post(spec.url);
      const answer = readText(stream);
      await writeAll(stream);
      return { received: bytesOf(await answer), expected };
    }
  }
}
