/**
 * Azure block blobs: this library's azure-blob mode (with Content-MD5, and
 * with x-ms-content-crc64) next to @azure/storage-blob's `uploadStream` (the
 * same block size and concurrency),
 * both to the same Azurite, from a stream of unknown length; and a drain of
 * that stream into a null Writable, which is what the source itself costs.
 * Each run is a fresh client process (client on CPU 0, Azurite on CPU 1 when
 * taskset and a second CPU exist); the four take turns run by run. Every
 * blob is read back and compared by sha256 on the first run of each client.
 *
 *   npm run build && node dist/bench/drivers/azure-blob.js [--mib 256] [--runs 4] [--out bench/notes/azure-blob.md]
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { startAzurite, type Azurite } from '../../__tests__/azure-blob/azurite.js';
import { pinning } from '../infra/harness.js';
import { NOTES, ROOT } from '../infra/paths.js';
import { MiB, median } from '../infra/stats.js';
import { benchSourceSha256 } from './azure-blob-source.js';

const CLIENT = path.join(ROOT, 'dist', 'bench', 'drivers', 'azure-blob-client.js');
const BLOCK_SIZE = 8 * MiB;
const CONCURRENCY = 5;
/** The issue's targets: our time at most this share of the SDK's; peak RSS within the pool and this margin (plus the drain's own growth). */
const TIME_TARGET = 0.8;
const RSS_MARGIN = 24 * MiB;

type Client = 'ours' | 'ours-crc64' | 'sdk' | 'drain';
const CLIENTS: Client[] = ['ours', 'ours-crc64', 'sdk', 'drain'];
const LABELS: Record<Client, string> = {
  ours: `buffered-http-writable, mode 'azure-blob' (Content-MD5 per block)`,
  'ours-crc64': `buffered-http-writable, mode 'azure-blob', checksum 'crc64' (x-ms-content-crc64 per block)`,
  sdk: '@azure/storage-blob uploadStream (no checksum)',
  drain: 'drain into a null Writable (no upload)',
};

interface Run {
  ms: number;
  rssBefore: number;
  peakRss: number;
}

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(name);
  return at === -1 ? fallback : process.argv[at + 1]!;
}

async function runClient(client: Client, url: string, bytes: number): Promise<Run> {
  const [command, ...args] = [...pinning.client, process.execPath, CLIENT, client, url, String(bytes), String(BLOCK_SIZE), String(CONCURRENCY)];
  const child = spawn(command!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0) throw new Error(`${client} exited ${code}: ${stderr.replace(/sig=[^&\s]*/g, 'sig=[REDACTED]')}`);
  return JSON.parse(stdout) as Run;
}

/** A fresh container per run (deleted after it: Azurite keeps blobs in memory). */
async function oneRun(azurite: Azurite, client: Client, bytes: number, expected: string | undefined): Promise<Run> {
  const url = await azurite.blobUrl('bench.bin', 'bench');
  const container = azurite.service.getContainerClient(new URL(url).pathname.split('/')[2]!);
  try {
    const run = await runClient(client, url, bytes);
    if (expected !== undefined) {
      const stored = createHash('sha256')
        .update(await azurite.read(url))
        .digest('hex');
      if (stored !== expected) throw new Error(`${client}: the blob read back differs from the bytes sent`);
    }
    return run;
  } finally {
    await container.delete();
  }
}

const mib = (bytes: number): string => `${(bytes / MiB).toFixed(1)} MiB`;
const spreadOf = (values: number[], format: (value: number) => string): string => `${format(Math.min(...values))}–${format(Math.max(...values))}`;

async function main(): Promise<void> {
  const bytes = Number(option('--mib', '256')) * MiB;
  const runs = Number(option('--runs', '4'));
  const out = option('--out', path.join(NOTES, 'azure-blob.md'));
  const expected = benchSourceSha256(bytes);
  const results: Record<Client, Run[]> = { ours: [], 'ours-crc64': [], sdk: [], drain: [] };
  for (let run = 0; run < runs; run++) {
    // A fresh Azurite per round: its in-memory store frees a deleted blob's extents
    // only later, and fills up (MemoryExtentStoreAtSizeLimit) after about a dozen 1 GiB blobs.
    const azurite = await startAzurite({ prefix: pinning.sink });
    try {
      // The clients take turns: with as many runs as clients, each goes first, second, … once.
      for (let turn = 0; turn < CLIENTS.length; turn++) {
        const client = CLIENTS[(run + turn) % CLIENTS.length]!;
        const verify = client !== 'drain' && results[client].length === 0 ? expected : undefined;
        results[client].push(client === 'drain' ? await runClient('drain', 'http://unused', bytes) : await oneRun(azurite, client, bytes, verify));
        process.stderr.write(`run ${run + 1}/${runs} ${client}: ${Math.round(results[client].at(-1)!.ms)} ms\n`);
      }
    } finally {
      await azurite.close();
    }
  }

  const medianOf = (client: Client, pick: (run: Run) => number): number => median(results[client].map(pick));
  const growth = (run: Run): number => run.peakRss - run.rssBefore;
  const rows = CLIENTS.map((client) => {
    const times = results[client].map((run) => run.ms);
    const peaks = results[client].map((run) => run.peakRss);
    return `| ${LABELS[client]} | ${Math.round(median(times))} ms | ${spreadOf(times, (v) => `${Math.round(v)}`)} ms | ${mib(median(peaks))} | ${spreadOf(peaks, (v) => (v / MiB).toFixed(1))} MiB | ${mib(medianOf(client, (run) => run.rssBefore))} | ${mib(medianOf(client, growth))} |`;
  });
  const timeRatio = medianOf('ours', (run) => run.ms) / medianOf('sdk', (run) => run.ms);
  const crc64Ratio = medianOf('ours-crc64', (run) => run.ms) / medianOf('sdk', (run) => run.ms);
  const pool = (CONCURRENCY + 1) * BLOCK_SIZE;
  const allowed = pool + RSS_MARGIN + medianOf('drain', growth);
  const ourGrowth = medianOf('ours', growth);
  const crc64Growth = medianOf('ours-crc64', growth);
  const text = [
    `### ${bytes / MiB} MiB`,
    '',
    `\`node dist/bench/drivers/azure-blob.js --mib ${bytes / MiB} --runs ${runs}\` (bench/drivers/azure-blob.ts). ${bytes / MiB} MiB from a stream of unknown length (64 KiB views of one 1 MiB block) to one Azurite 3.37 (in memory, on a Node 22 from the npm \`node\` package), blocks of ${BLOCK_SIZE / MiB} MiB, ${CONCURRENCY} in flight for both clients; every blob read back and compared by sha256 (first run of each). A fresh client process per run (Node ${process.versions.node}, ${pinning.description.replace('sink', 'Azurite')}), the four taking turns run by run, a fresh Azurite per round; median of ${runs} runs. Peak RSS is the client process's \`VmHWM\` (its \`maxRSS\` would carry over the parent's peak); growth is peak minus the RSS just before the upload.`,
    '',
    '| client | time (median) | spread (min–max) | peak RSS (median) | spread (min–max) | RSS before | growth (median) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
    `Ours / uploadStream time = ${timeRatio.toFixed(2)}× with MD5, ${crc64Ratio.toFixed(2)}× with CRC-64 (target ≤ ${TIME_TARGET}×: ${timeRatio <= TIME_TARGET ? 'met' : 'not met'}, ${crc64Ratio <= TIME_TARGET ? 'met' : 'not met'}).`,
    `Our growth ${mib(ourGrowth)} with MD5, ${mib(crc64Growth)} with CRC-64, against the pool (${CONCURRENCY + 1} × ${BLOCK_SIZE / MiB} MiB = ${mib(pool)}) + 24 MiB + the drain's growth (${mib(medianOf('drain', growth))}) = ${mib(allowed)} (${ourGrowth <= allowed ? 'met' : 'not met'}, ${crc64Growth <= allowed ? 'met' : 'not met'}).`,
    "Part of the difference is the server's: Azurite checks Content-MD5 with node:crypto but computes a CRC-64 in JavaScript, on its own CPU, before it answers, both for a block sent without a checksum (the SDK sends none) and for one sent with x-ms-content-crc64. Against Azure itself the gaps may differ; the memory figures do not depend on it.",
    `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, ${mib(os.totalmem())}.`,
    '',
  ].join('\n');
  writeFileSync(out, text);
  process.stdout.write(text);
}

await main();
