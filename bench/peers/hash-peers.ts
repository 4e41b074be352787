/**
 * The digest's yardstick: the hash alone over the same bytes a workload sends, in
 * the pool's buffer size, with only the hashing timed (the reading of the file
 * and the copying of the records are not the hash's cost). What the library's
 * `digest` option adds to an upload is compared with this.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import type { DigestAlgorithm } from '../../lib/index.js';
import { RECORD_RING, makeRecords } from '../infra/records.js';

/** node:crypto's name for an RFC 9530 algorithm key: `sha-256` → `sha256`. */
function nodeHashName(algorithm: DigestAlgorithm): string {
  return algorithm.replace('-', '');
}

export interface HashSpec {
  algorithm: DigestAlgorithm;
  /** The W1 file's first `bytes` bytes, or `count` records of the W2/W3 ring. */
  input: { file: string; bytes: number } | { records: number };
  /** Bytes per hash update: the library's highWaterMark, one update per pool buffer. */
  chunkSize: number;
}

/**
 * bench:digest's control: the same hash over one buffer of `bytes`, run each
 * time a workload has written that many bytes, on a buffer of its own (not
 * the upload's bytes, and not by the library). What it adds to a workload is
 * what running this hash in that loop costs on this machine, whoever runs it,
 * on bytes the loop did not just write.
 */
export function hashBetweenWrites(algorithm: DigestAlgorithm, bytes: number): { wrote(length: number): void } {
  const buffer = Buffer.alloc(bytes, 'x');
  let written = 0;
  return {
    wrote(length: number): void {
      written += length;
      if (written < bytes) return;
      written -= bytes;
      createHash(nodeHashName(algorithm)).update(buffer).digest();
    },
  };
}

export const HASH_PEERS = ['hash'] as const;
export type HashPeer = (typeof HASH_PEERS)[number];

/** Hashes the input; `ms` and `cpuMs` are the wall and CPU time spent in the hash alone. */
export function hashAlone(spec: HashSpec): { received: number; expected: number; ms: number; cpuMs: number } {
  const hash = createHash(nodeHashName(spec.algorithm));
  const buffer = Buffer.allocUnsafeSlow(spec.chunkSize);
  let ms = 0;
  let cpuMicros = 0;
  let hashed = 0;
  const update = (length: number): void => {
    const began = performance.now();
    const cpu = process.cpuUsage();
    hash.update(buffer.subarray(0, length));
    const spent = process.cpuUsage(cpu);
    ms += performance.now() - began;
    cpuMicros += spent.user + spent.system;
    hashed += length;
  };
  if ('file' in spec.input) {
    const fd = openSync(spec.input.file, 'r');
    try {
      for (let left = spec.input.bytes; left > 0;) {
        const read = readSync(fd, buffer, 0, Math.min(buffer.length, left), spec.input.bytes - left);
        if (read === 0) break;
        update(read);
        left -= read;
      }
    } finally {
      closeSync(fd);
    }
    hash.digest();
    return { received: hashed, expected: spec.input.bytes, ms, cpuMs: cpuMicros / 1000 };
  }
  const ring = makeRecords();
  let filled = 0;
  for (let i = 0; i < spec.input.records; i++) {
    const record = ring.buffers[i % RECORD_RING]!;
    // Records are cut across buffers as the stream and W2 pools cut them; the bytes hashed are the same either way.
    for (let offset = 0; offset < record.length;) {
      const length = Math.min(record.length - offset, buffer.length - filled);
      record.copy(buffer, filled, offset, offset + length);
      filled += length;
      offset += length;
      if (filled === buffer.length) {
        update(filled);
        filled = 0;
      }
    }
  }
  if (filled > 0) update(filled);
  hash.digest();
  return { received: hashed, expected: ring.totalBytes(spec.input.records), ms, cpuMs: cpuMicros / 1000 };
}
