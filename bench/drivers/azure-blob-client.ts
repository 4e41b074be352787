/**
 * One run of the Azure block blob bench, in a fresh process so its RSS is its
 * own: uploads `bytes` from a stream of unknown length to `url` (a blob URL
 * with a SAS) with this library (Content-MD5 or x-ms-content-crc64 per block)
 * or with @azure/storage-blob's `uploadStream`,
 * or only drains the same stream into a null Writable (the source's own cost).
 * Prints one JSON line: ms, the RSS before the upload and the peak RSS.
 *
 *   node azure-blob-client.js ours|ours-crc64|sdk|drain <url> <bytes> <blockSize> <concurrency>
 */
import { readFileSync } from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BlockBlobClient } from '@azure/storage-blob';
import { BufferedHttpWritable } from '../../lib/index.js';
import { benchSource } from './azure-blob-source.js';

const [client, url, bytes, blockSize, concurrency] = process.argv.slice(2) as [string, string, string, string, string];

async function upload(source: Readable): Promise<void> {
  if (client === 'ours' || client === 'ours-crc64') {
    const checksum = client === 'ours' ? 'md5' : 'crc64';
    await pipeline(
      source,
      new BufferedHttpWritable(url, { mode: 'azure-blob', highWaterMark: Number(blockSize), concurrency: Number(concurrency), azureBlob: { checksum } }),
    );
  } else if (client === 'sdk') {
    await new BlockBlobClient(url).uploadStream(source, Number(blockSize), Number(concurrency));
  } else {
    await pipeline(source, new Writable({ write: (_chunk, _encoding, callback) => callback() }));
  }
}

const rssBefore = process.memoryUsage.rss();
const started = performance.now();
await upload(benchSource(Number(bytes)));
const elapsed = performance.now() - started;
const peakRss = peakResidentSetSize();
process.stdout.write(`${JSON.stringify({ ms: elapsed, rssBefore, peakRss })}\n`);

/**
 * The kernel's high-water mark of this process's memory, whatever happened
 * between samples: `VmHWM`, which starts afresh at exec. Not `maxRSS`: Linux
 * carries it over from the parent across fork and exec, and the bench's
 * parent holds a whole blob after reading one back.
 */
function peakResidentSetSize(): number {
  const kib = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  if (kib === undefined) throw new Error('no VmHWM in /proc/self/status: this bench needs Linux');
  return Number(kib) * 1024;
}
