/**
 * Uploads one file as a single chunked HTTP request (stream mode).
 *
 *   node dist/examples/upload-file.js big.bin http://127.0.0.1:8080/upload
 */
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { BufferedHttpWritable, BufferedHttpWritableError, type UploadResponse } from 'buffered-http-writable';
import { checkInputFile } from './input-file.js';

export async function uploadFile(path: string, url: string): Promise<UploadResponse | undefined> {
  const upload = new BufferedHttpWritable(url, {
    highWaterMark: 1024 * 1024, // each HTTP chunk is 1 MiB; two such buffers are all the memory used
    headers: { 'content-type': 'application/octet-stream' },
  });
  // pipeline resolves only once the server answered 2xx for every byte.
  await pipeline(createReadStream(path), upload);
  return upload.response;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [path, url] = process.argv.slice(2);
  if (!path || !url) {
    console.error('usage: upload-file <file> <url>');
    process.exit(2);
  }
  await checkInputFile('upload-file', path);
  try {
    const response = await uploadFile(path, url);
    console.log(`${response?.statusCode} ${response?.body}`);
  } catch (error) {
    // Every library error says how far the upload got.
    const reason = error instanceof BufferedHttpWritableError ? `${error.code}: ${error.message}` : (error as Error).message;
    console.error(`upload-file: upload failed: ${reason}`);
    process.exit(1);
  }
}
