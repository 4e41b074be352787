/**
 * Ships log records as NDJSON to an HTTP ingest endpoint, in batches.
 *
 *   node dist/examples/ship-ndjson-logs.js [url] [records]
 *
 * Without a URL it starts the receiving server of `bhw receive`
 * (cli/receive-server.ts) on a free port, storing the batches in a temporary
 * directory, and stops it and removes the directory at the end.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as pause } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { BufferedHttpWritable, type BatchReport } from 'buffered-http-writable';
import { startReceiveServer } from '../cli/receive-server.js';

const LEVELS = ['debug', 'info', 'info', 'info', 'warn', 'error'] as const;

/** A producer of log records, one NDJSON line each, with a quiet spell now and then. */
async function* logRecords(count: number): AsyncGenerator<string> {
  for (let i = 0; i < count; i++) {
    const record = {
      time: new Date().toISOString(),
      level: LEVELS[i % LEVELS.length],
      msg: `handled request ${i}`,
      requestId: `req-${i.toString(36)}`,
      durationMs: (i * 37) % 250,
    };
    yield `${JSON.stringify(record)}\n`;
    // While the producer is quiet, flushInterval still ships what is buffered.
    if (i % 1000 === 999) await pause(200);
  }
}

/** Uploads `count` records to `url`; returns how many batches the server acknowledged. */
export async function shipLogs(url: string, count: number): Promise<BatchReport[]> {
  const upload = new BufferedHttpWritable(url, {
    mode: 'batch',
    highWaterMark: 64 * 1024, // at most 64 KiB per request; a record is never split
    concurrency: 2,
    flushInterval: 100, // a record waits at most 100 ms before it is sent
    headers: { 'content-type': 'application/x-ndjson' },
    retry: { limit: 5 },
  });
  const batches: BatchReport[] = [];
  upload.on('batch', (report) => {
    batches.push(report);
    console.log(`batch ${report.sequence}: ${report.size} bytes at offset ${report.offset}, ${report.statusCode} after ${report.attempts} attempt(s)`);
  });
  await pipeline(Readable.from(logRecords(count)), upload);
  console.log(`${upload.bytesAcknowledged} bytes acknowledged in ${batches.length} batches`);
  return batches;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [url, records = '5000'] = process.argv.slice(2);
  if (url) {
    await shipLogs(url, Number(records));
  } else {
    const work = await mkdtemp(join(tmpdir(), 'bhw-logs-'));
    const receiver = await startReceiveServer({ port: 0, dir: join(work, 'received'), log: () => {} });
    try {
      await shipLogs(receiver.url, Number(records));
    } finally {
      await receiver.close();
      await rm(work, { recursive: true, force: true });
    }
  }
}
