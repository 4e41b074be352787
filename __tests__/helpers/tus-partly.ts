import { expect } from '@jest/globals';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { BufferedHttpWritable } from '../../lib/index.js';

export interface PartlyOptions {
  highWaterMark: number;
  /** Size of the file stream's reads. */
  readSize: number;
  contentLength?: number;
}

/**
 * Uploads `file` to the tus server at `serverUrl` until the server acknowledged
 * at least `stopAt` bytes, then aborts (the first process of a resume test);
 * returns the upload URL to resume.
 */
export async function uploadPartly(
  serverUrl: string,
  file: string,
  stopAt: number,
  { highWaterMark, readSize, contentLength }: PartlyOptions,
): Promise<string> {
  const controller = new AbortController();
  const first = new BufferedHttpWritable(serverUrl, {
    mode: 'tus',
    highWaterMark,
    signal: controller.signal,
    ...(contentLength === undefined ? {} : { contentLength }),
  });
  first.on('progress', (progress) => {
    if (progress.bytesAcknowledged >= stopAt) controller.abort();
  });
  await expect(pipeline(createReadStream(file, { highWaterMark: readSize }), first)).rejects.toMatchObject({ name: 'AbortError' });
  return first.uploadUrl!;
}
