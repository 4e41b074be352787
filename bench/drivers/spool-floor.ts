/**
 * What a spool of 1 MiB records cannot skip, measured alone on this machine:
 * the checksum of every byte (the spool's crc32, and zlib's for comparison:
 * lib/modes/batch/spool/checksum.ts), writing every byte to the page
 * cache (units of 1 MiB + 20 bytes, as the spool frames them) and reading it
 * back into a 1 MiB buffer. Run pinned like the benchmark's client:
 *
 *     taskset -c 0 node dist/bench/drivers/spool-floor.js [MiB] [rounds]
 *
 * Prints the median of each pass (ms for the given MiB, default 1024) over
 * the rounds (default 3), in a fresh file each round; the S2 note compares
 * their sum with what 0.7× of the no-spool time leaves for the spool.
 */
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { crc32, crc32Implementation, zlibCrc32 } from '../../lib/modes/batch/spool/checksum.js';
import { MiB } from '../infra/stats.js';

const UNIT_HEADER = 12;
const TABLE_AND_COUNT = 8;

type Pass = 'crc' | 'zlibCrc' | 'write' | 'read';

async function round(records: number, dir: string): Promise<Record<Pass, number>> {
  const record = Buffer.alloc(MiB, 7);
  const header = Buffer.alloc(UNIT_HEADER);
  const table = Buffer.alloc(TABLE_AND_COUNT);
  const unit = UNIT_HEADER + MiB + TABLE_AND_COUNT;
  const file = path.join(dir, 'floor.log');
  const handle = await open(file, 'wx+');
  try {
    const checksumMs = (checksum: typeof crc32): number => {
      const began = performance.now();
      let crc = 0;
      for (let index = 0; index < records; index++) crc = checksum(record, crc);
      return performance.now() - began;
    };
    const crcMs = checksumMs(crc32);
    const zlibCrcMs = checksumMs(zlibCrc32);
    let began = performance.now();
    for (let index = 0; index < records; index++) await handle.writev([header, record, table], index * unit);
    const writeMs = performance.now() - began;
    const into = Buffer.allocUnsafe(MiB);
    began = performance.now();
    for (let index = 0; index < records; index++) await handle.read(into, 0, MiB, index * unit + UNIT_HEADER);
    const readMs = performance.now() - began;
    return { crc: crcMs, zlibCrc: zlibCrcMs, write: writeMs, read: readMs };
  } finally {
    await handle.close();
    await rm(file);
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const records = Number(process.argv[2] ?? 1024);
const rounds = Number(process.argv[3] ?? 3);
const dir = await mkdtemp(path.join(tmpdir(), 'bhw-spool-floor-'));
try {
  const results: Array<Awaited<ReturnType<typeof round>>> = [];
  for (let index = 0; index < rounds; index++) results.push(await round(records, dir));
  const crc = median(results.map((result) => result.crc));
  const zlibCrc = median(results.map((result) => result.zlibCrc));
  const write = median(results.map((result) => result.write));
  const read = median(results.map((result) => result.read));
  const spread = (key: Pass): string =>
    `${Math.round(Math.min(...results.map((result) => result[key])))}–${Math.round(Math.max(...results.map((result) => result[key])))}`;
  console.log(`${records} MiB, ${rounds} rounds, medians (min–max):`);
  console.log(`  crc32 (${crc32Implementation()})    ${Math.round(crc)} ms (${spread('crc')})`);
  console.log(`  zlib.crc32      ${Math.round(zlibCrc)} ms (${spread('zlibCrc')}), not in the sum`);
  console.log(`  page-cache write ${Math.round(write)} ms (${spread('write')})`);
  console.log(`  read back       ${Math.round(read)} ms (${spread('read')})`);
  console.log(`  sum             ${Math.round(crc + write + read)} ms`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
