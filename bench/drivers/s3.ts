/**
 * S3 multipart: this library's `mode: 's3'` next to `@aws-sdk/lib-storage`'s
 * `Upload`, the same part size (8 MiB) and queue (4 parts in flight), CRC32
 * part checksums in both (the SDK's default), on one file from the page cache
 * and on a stream of unknown length (the same file through a PassThrough).
 * The sink is bench/infra/s3-sink.ts, pinned to CPU 1; each client is a
 * fresh process pinned to CPU 0. Runs alternate between the clients. A null
 * client drains the same source into a Writable that drops it: the RSS the
 * source itself costs.
 *
 *     npm run build && node dist/bench/drivers/s3.js [--mib 256] [--runs 5]
 *
 * Prints a Markdown table: medians (min–max) of the upload time measured in
 * the client (imports done, first byte to the final answer), its peak RSS
 * (`maxRSS`), and its RSS before the upload.
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { median } from '../infra/stats.js';

const MiB = 1024 * 1024;
const PART = 8 * MiB;
const QUEUE = 4;
const CREDENTIALS = { accessKeyId: 'BENCH', secretAccessKey: 'bench-secret' };
type Client = 'bhw' | 'lib-storage' | 'null';
type Source = 'file' | 'stream';

interface ClientFigures {
  ms: number;
  maxRss: number;
  rssBefore: number;
}

/** The client process: one upload, then its figures as JSON on stdout. */
async function runClient(client: Client, source: Source, file: string, endpoint: string): Promise<void> {
  const url = `${endpoint}/bucket/object.bin`;
  const stream = (): Readable =>
    source === 'file' ? createReadStream(file, { highWaterMark: 1 * MiB }) : createReadStream(file, { highWaterMark: 1 * MiB }).pipe(new PassThrough());
  const bhw = client === 'bhw' ? await import('../../lib/index.js') : undefined;
  const sdk = client === 'lib-storage' ? { ...(await import('@aws-sdk/client-s3')), ...(await import('@aws-sdk/lib-storage')) } : undefined;
  const s3Client = sdk ? new sdk.S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: CREDENTIALS }) : undefined;
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  const started = performance.now();
  if (bhw) {
    const options = { mode: 's3' as const, highWaterMark: PART, concurrency: QUEUE, s3: { credentials: CREDENTIALS, checksum: 'crc32' as const } };
    if (source === 'file') await bhw.uploadFile(file, url, options);
    else await pipeline(stream(), new bhw.BufferedHttpWritable(url, options));
  } else if (sdk) {
    const upload = new sdk.Upload({ client: s3Client!, params: { Bucket: 'bucket', Key: 'object.bin', Body: stream() }, partSize: PART, queueSize: QUEUE });
    await upload.done();
  } else {
    await pipeline(stream(), new Writable({ write: (_chunk, _encoding, callback) => callback() }));
  }
  const ms = performance.now() - started;
  s3Client?.destroy();
  const figures: ClientFigures = { ms, maxRss: process.resourceUsage().maxRSS * 1024, rssBefore };
  process.stdout.write(`${JSON.stringify(figures)}\n`);
}

const hasTaskset = spawnSync('taskset', ['-c', '0', 'true']).status === 0 && cpus().length >= 2;
const pinned = (cpu: number, command: string[]): string[] => (hasTaskset ? ['taskset', '-c', String(cpu), ...command] : command);

async function spawnJson<T>(command: string[]): Promise<T> {
  const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  let text = '';
  child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const [code] = (await once(child, 'close')) as [number];
  if (code !== 0) throw new Error(`${command.join(' ')} exited ${code}`);
  return JSON.parse(text) as T;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { mib: { type: 'string', default: '256' }, runs: { type: 'string', default: '5' } } });
  const size = Number(values.mib) * MiB;
  const runs = Number(values.runs);
  const dir = await mkdtemp(path.join(tmpdir(), 'bhw-s3-bench-'));
  const file = path.join(dir, 'source.bin');
  // Written a part at a time: a child forked from a large process inherits its peak RSS (Linux keeps maxrss across exec).
  const handle = await open(file, 'w');
  const block = Buffer.alloc(PART, 0x5a);
  for (let written = 0; written < size; written += PART) await handle.write(block, 0, Math.min(PART, size - written));
  await handle.close();
  const sinkScript = fileURLToPath(new URL('../infra/s3-sink.js', import.meta.url));
  const sinkCommand = pinned(1, [process.execPath, sinkScript]);
  const sink = spawn(sinkCommand[0]!, sinkCommand.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(sink.stdout, 'data')) as [Buffer];
  const endpoint = `http://127.0.0.1:${(JSON.parse(line.toString()) as { port: number }).port}`;
  const cases: Array<[Client, Source]> = [];
  for (const source of ['file', 'stream'] as const) for (const client of ['bhw', 'lib-storage', 'null'] as const) cases.push([client, source]);
  const results = new Map<string, ClientFigures[]>();
  try {
    for (let run = 0; run < runs; run++) {
      for (const [client, source] of cases) {
        const figures = await spawnJson<ClientFigures>(
          pinned(0, [process.execPath, '--expose-gc', fileURLToPath(import.meta.url), 'client', client, source, file, endpoint]),
        );
        const received = Number(await (await fetch(`${endpoint}/__bytes`)).text());
        if (client !== 'null' && received !== size) throw new Error(`${client} ${source}: the sink received ${received} of ${size} bytes`);
        const key = `${client} ${source}`;
        results.set(key, [...(results.get(key) ?? []), figures]);
        process.stderr.write(`run ${run + 1} ${key}: ${figures.ms.toFixed(0)} ms, peak RSS ${(figures.maxRss / MiB).toFixed(0)} MiB\n`);
      }
    }
  } finally {
    sink.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  }
  const range = (values: number[], scale: number, digits = 0): string =>
    `${(median(values) / scale).toFixed(digits)} (${(Math.min(...values) / scale).toFixed(digits)}–${(Math.max(...values) / scale).toFixed(digits)})`;
  console.log(
    `${values.mib} MiB, parts of 8 MiB, 4 in flight, CRC32 checksums, ${runs} runs alternated, client on CPU 0 and sink on CPU 1${hasTaskset ? '' : ' (taskset missing: not pinned)'}.\n`,
  );
  console.log('| source | client | time, ms | ratio to lib-storage | peak RSS, MiB | RSS before, MiB | peak − before, MiB |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const [client, source] of cases) {
    const figures = results.get(`${client} ${source}`)!;
    const reference = median(results.get(`lib-storage ${source}`)!.map((f) => f.ms));
    const ratio = client === 'null' ? '' : `${(median(figures.map((f) => f.ms)) / reference).toFixed(2)}×`;
    console.log(
      `| ${source} | ${client} | ${range(
        figures.map((f) => f.ms),
        1,
      )} | ${ratio} | ${range(
        figures.map((f) => f.maxRss),
        MiB,
      )} | ${range(
        figures.map((f) => f.rssBefore),
        MiB,
      )} | ${range(
        figures.map((f) => f.maxRss - f.rssBefore),
        MiB,
      )} |`,
    );
  }
}

if (process.argv[2] === 'client') {
  const [client, source, file, endpoint] = process.argv.slice(3) as [Client, Source, string, string];
  await runClient(client, source, file, endpoint);
} else {
  await main();
}
