/**
 * W3 records: `count` NDJSON records shipped in batch mode (one request per
 * full buffer), or one request per record over a keep-alive agent, one after
 * the other, as a service that posts each event does.
 */
import { spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { RECORD_RING, makeRecords } from '../infra/records.js';
import type { DigestAlgorithm } from '../../lib/index.js';
import { hashBetweenWrites } from './hash-peers.js';
import { bytesOf, httpAnswer } from './upload-peers.js';

export interface RecordSpec {
  url: string;
  count: number;
  /** batch: requests in flight. */
  concurrency?: number;
  /** batch: bytes per batch; the library's default when absent. */
  highWaterMark?: number;
  /** batch: through a spool in a fresh temp dir, with or without fdatasync. */
  spool?: 'on' | 'fsync';
  /** Records of this many bytes each instead of the ~100 B NDJSON ring (the 1 MiB workload). */
  recordBytes?: number;
  /** batch: this library's `digest` option (off when absent). */
  digest?: DigestAlgorithm;
  /** batch, digest off: bench:digest's control, this hash run between the writes once per batch's worth of bytes (hashBetweenWrites). */
  hashBetweenWrites?: DigestAlgorithm;
}

export const RECORD_PEERS = ['bhw:batch', 'http.request:per-record', 'got:per-record', 'dd:conv=fsync'] as const;
export type RecordPeer = (typeof RECORD_PEERS)[number];

export async function shipRecords(peer: RecordPeer, spec: RecordSpec): Promise<{ received: number; expected: number }> {
  const ring = makeRecords();
  const big = spec.recordBytes === undefined ? undefined : randomFillSync(Buffer.allocUnsafe(spec.recordBytes));
  const expected = big ? big.length * spec.count : ring.totalBytes(spec.count);
  switch (peer) {
    case 'bhw:batch': {
      const { BufferedHttpWritable, DEFAULT_HIGH_WATER_MARK } = await import('../../lib/index.js');
      const dir = spec.spool ? await mkdtemp(path.join(tmpdir(), 'bhw-bench-spool-')) : undefined;
      try {
        const destination = new BufferedHttpWritable(spec.url, {
          mode: 'batch',
          ...(spec.concurrency === undefined ? {} : { concurrency: spec.concurrency }),
          ...(spec.highWaterMark === undefined ? {} : { highWaterMark: spec.highWaterMark }),
          ...(spec.digest === undefined ? {} : { digest: spec.digest }),
          ...(dir ? { spool: { dir, fsync: spec.spool === 'fsync', maxBytes: 4 * 1024 ** 3 } } : {}),
        });
        const control =
          spec.hashBetweenWrites === undefined ? undefined : hashBetweenWrites(spec.hashBetweenWrites, spec.highWaterMark ?? DEFAULT_HIGH_WATER_MARK);
        let received = 0;
        destination.on('batch', (report) => {
          received += report.size;
        });
        for (let i = 0; i < spec.count; i++) {
          const record = big ?? ring.strings[i % RECORD_RING]!;
          // The ring's lines are ASCII: a string's length is its size in bytes.
          control?.wrote(record.length);
          if (!destination.write(record)) await once(destination, 'drain');
        }
        destination.end();
        await finished(destination);
        return { received: Math.min(received, destination.bytesAcknowledged), expected };
      } finally {
        if (dir) await rm(dir, { recursive: true, force: true });
      }
    }
    case 'dd:conv=fsync': {
      // The disk's own rate for the same bytes, written and synced once: what an fsync'ed spool is held to.
      const dir = await mkdtemp(path.join(tmpdir(), 'bhw-bench-dd-'));
      try {
        const blocks = Math.ceil(expected / (1024 * 1024));
        const result = spawnSync('dd', ['if=/dev/zero', `of=${path.join(dir, 'out')}`, 'bs=1M', `count=${blocks}`, 'conv=fsync'], { stdio: 'ignore' });
        if (result.status !== 0) throw new Error(`dd exited with ${result.status}`);
        return { received: expected, expected };
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
    case 'http.request:per-record': {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      let received = 0;
      for (let i = 0; i < spec.count; i++) {
        const request = http.request(spec.url, { method: 'POST', agent, headers: { 'content-type': 'application/x-ndjson' } });
        const answer = httpAnswer(request);
        request.end(ring.buffers[i % RECORD_RING]);
        received += bytesOf(await answer);
      }
      agent.destroy();
      return { received, expected };
    }
    case 'got:per-record': {
      const { default: got } = await import('got');
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const client = got.extend({ agent: { http: agent }, headers: { 'content-type': 'application/x-ndjson' } });
      let received = 0;
      for (let i = 0; i < spec.count; i++) {
        received += bytesOf(await client.post(spec.url, { body: ring.buffers[i % RECORD_RING] }).text());
      }
      agent.destroy();
      return { received, expected };
    }
  }
}
