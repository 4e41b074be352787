import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { pipeline } from 'node:stream/promises';
import { BufferedHttpWritable, ContentLengthError } from '../../lib/index.js';
import { pattern, readableOf } from '../helpers/data.js';
import { startTusServer, type TusTestServer } from '../helpers/tus-server.js';

describe('tus: a new upload whose bytes do not match contentLength fails, and the server never holds it as complete', () => {
  let server: TusTestServer;
  beforeEach(async () => {
    server = await startTusServer();
  });
  afterEach(async () => {
    await server.close();
  });

  test('ending short of it', async () => {
    const upload = new BufferedHttpWritable(server.url, { mode: 'tus', highWaterMark: 1024, contentLength: 5000 });
    const error = await pipeline(readableOf([pattern(3000)]), upload).catch((e: Error) => e);
    expect(error).toBeInstanceOf(ContentLengthError);
    expect(error).toMatchObject({ code: 'ERR_BHW_CONTENT_LENGTH', expected: 5000, actual: 3000 });
    const stored = await server.stored(upload.uploadUrl!);
    expect(stored.length).toBe(5000);
    expect(stored.offset).toBeLessThan(5000);
  });

  test('writing past it fails at that write, before the bytes reach the server', async () => {
    const upload = new BufferedHttpWritable(server.url, { mode: 'tus', highWaterMark: 1024, contentLength: 2000 });
    const error = await pipeline(readableOf([pattern(1500), pattern(600)]), upload).catch((e: Error) => e);
    expect(error).toMatchObject({ code: 'ERR_BHW_CONTENT_LENGTH', expected: 2000, actual: 2100 });
    if (upload.uploadUrl) expect((await server.stored(upload.uploadUrl)).offset).toBeLessThanOrEqual(1500);
  });
});
