/**
 * Compresses a file on the way to the server: a gzip stage in the chain,
 * then the uploader, which sends the compressed bytes in 1 MiB chunks.
 *
 *   node dist/examples/gzip-upload.js access.log http://127.0.0.1:8080/upload
 */
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createGzip } from 'node:zlib';
import { BufferedHttpWritable } from 'buffered-http-writable';
import { checkInputFile } from './input-file.js';

export async function uploadGzipped(path: string, url: string): Promise<{ original: number; sent: number }> {
  let original = 0;
  const source = createReadStream(path).on('data', (chunk) => (original += chunk.length));
  const upload = new BufferedHttpWritable(url, {
    headers: { 'content-type': 'application/octet-stream', 'content-encoding': 'gzip' },
  });
  await pipeline(source, createGzip(), upload);
  return { original, sent: upload.bytesAcknowledged };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [path, url] = process.argv.slice(2);
  if (!path || !url) {
    console.error('usage: gzip-upload <file> <url>');
    process.exit(2);
  }
  await checkInputFile('gzip-upload', path);
  try {
    const { original, sent } = await uploadGzipped(path, url);
    console.log(`${original} bytes read, ${sent} gzip bytes uploaded and acknowledged`);
  } catch (error) {
    console.error(`gzip-upload: upload failed: ${(error as Error).message}`);
    process.exitCode = 1;
  }
}
