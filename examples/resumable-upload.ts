/**
 * Uploads a file to a tus server, and continues it after a failure, even
 * from another process:
 *
 *   node dist/examples/resumable-upload.js big.bin http://localhost:1080/files
 *   # … the connection dies for good; the program prints how to resume:
 *   node dist/examples/resumable-upload.js big.bin http://localhost:1080/files --resume http://localhost:1080/files/abc123
 *
 * Within one run, dropped connections are recovered by the library itself
 * (HEAD, then resend from the server's offset); `--resume` is for when the
 * retries ran out or the process stopped.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { BufferedHttpWritable, BufferedHttpWritableError, fetchTusOffset } from 'buffered-http-writable';
import { checkInputFile } from './input-file.js';

export interface ResumableUploadOptions {
  /** Continue this upload instead of creating one. */
  resume?: string;
  highWaterMark?: number;
  onProgress?(acknowledged: number, total: number): void;
}

/** Uploads `path` to the tus `endpoint` (or continues `resume`); resolves with the upload URL. */
export async function uploadResumable(path: string, endpoint: string, options: ResumableUploadOptions = {}): Promise<string> {
  const { size } = await stat(path);
  // Resuming: the server says how much it holds; read the file from there on.
  const resumeFrom = options.resume ? await fetchTusOffset(options.resume) : undefined;
  const start = resumeFrom?.offset ?? 0;
  const upload = new BufferedHttpWritable(endpoint, {
    mode: 'tus',
    highWaterMark: options.highWaterMark ?? 4 * 1024 * 1024,
    // The whole file's length, also when resuming (tus Upload-Length).
    contentLength: size,
    // resumeFrom: the transport starts from that answer instead of asking HEAD again.
    ...(options.resume ? { uploadUrl: options.resume, resumeFrom } : { metadata: { filename: basename(path) } }),
  });
  upload.on('progress', (progress) => options.onProgress?.(start + progress.bytesAcknowledged, size));
  await pipeline(createReadStream(path, { start }), upload);
  return upload.uploadUrl!;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [path, endpoint, flag, resume] = process.argv.slice(2);
  if (!path || !endpoint || (flag !== undefined && (flag !== '--resume' || !resume))) {
    console.error('usage: resumable-upload <file> <tus endpoint> [--resume <uploadUrl>]');
    process.exit(2);
  }
  await checkInputFile('resumable-upload', path);
  try {
    const uploadUrl = await uploadResumable(path, endpoint, {
      ...(resume ? { resume } : {}),
      onProgress: (acknowledged, total) => process.stdout.write(`\r${acknowledged} / ${total} bytes stored`),
    });
    console.log(`\ndone: ${uploadUrl}`);
  } catch (error) {
    console.error(`\nupload failed: ${(error as Error).message}`);
    if (error instanceof BufferedHttpWritableError && error.uploadUrl) {
      console.error(`the server holds ${error.offset ?? 'part'} bytes of it; to continue:`);
      console.error(`  node ${process.argv[1]} ${path} ${endpoint} --resume ${error.uploadUrl}`);
    }
    process.exitCode = 1;
  }
}
