/**
 * What a block's checksum costs the client: `blockChecksum` (the code every
 * Put Block runs) with 'md5' (node:crypto) and 'crc64' (@aws-sdk/crc64-nvme,
 * pure JavaScript) on the same 8 MiB blocks, in one process, the two taking
 * turns round by round (each goes first as often), after one warm-up round.
 * Prints ms per MiB: median and spread, and crc64 / md5.
 *
 *   npm run build && node dist/bench/drivers/azure-checksum.js [--rounds 15] [--blocks 8]
 */
import { randomFillSync } from 'node:crypto';
import os from 'node:os';
import { blockChecksum } from '../../lib/modes/azure-blob/checksum.js';
import type { AzureBlobChecksum } from '../../lib/types.js';
import { MiB, median } from '../infra/stats.js';

const BLOCK_SIZE = 8 * MiB;
const ALGORITHMS: AzureBlobChecksum[] = ['md5', 'crc64'];

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(name);
  return at === -1 ? fallback : process.argv[at + 1]!;
}

/** ms per MiB for one pass of `algorithm` over every block. */
async function onePass(algorithm: AzureBlobChecksum, blocks: Buffer[]): Promise<number> {
  const started = performance.now();
  for (const block of blocks) await blockChecksum(block, algorithm);
  return (performance.now() - started) / ((blocks.length * BLOCK_SIZE) / MiB);
}

async function main(): Promise<void> {
  const rounds = Number(option('--rounds', '15'));
  const blocks = Array.from({ length: Number(option('--blocks', '8')) }, () => randomFillSync(Buffer.allocUnsafe(BLOCK_SIZE)));
  // Warm-up: the JIT, and the lazy load of the CRC-64 module with its tables.
  for (const algorithm of ALGORITHMS) await onePass(algorithm, blocks);
  const results: Record<AzureBlobChecksum, number[]> = { md5: [], crc64: [] };
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? ALGORITHMS : [...ALGORITHMS].reverse();
    for (const algorithm of order) results[algorithm].push(await onePass(algorithm, blocks));
  }
  const row = (algorithm: AzureBlobChecksum): string => {
    const values = results[algorithm];
    return `| ${algorithm} | ${median(values).toFixed(2)} ms | ${Math.min(...values).toFixed(2)}–${Math.max(...values).toFixed(2)} ms | ${(1000 / median(values)).toFixed(0)} MiB/s |`;
  };
  const text = [
    `${rounds} alternated rounds of ${blocks.length} × ${BLOCK_SIZE / MiB} MiB random blocks, one process (Node ${process.versions.node}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}):`,
    '',
    '| checksum | per MiB (median) | spread (min–max) | throughput |',
    '| --- | ---: | ---: | ---: |',
    row('md5'),
    row('crc64'),
    '',
    `crc64 / md5 = ${(median(results.crc64) / median(results.md5)).toFixed(2)}×`,
    '',
  ].join('\n');
  process.stdout.write(text);
}

await main();
