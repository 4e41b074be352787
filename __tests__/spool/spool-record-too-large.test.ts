/**
 * A record larger than the spool's maxBytes can never be stored: its own
 * write is refused with ERR_BHW_SPOOL_RECORD_TOO_LARGE and the stream errors,
 * while the writes before it (queued together with it, so handed to one
 * `_writev`) are confirmed and stay in the spool for the next start.
 */
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BufferedHttpWritable, SpoolRecordTooLargeError, type BufferedHttpWritableError } from '../../lib/index.js';
import { startBatchServer, type BatchServer } from '../helpers/batch-server.js';

let dir: string;
let server: BatchServer | undefined;
beforeEach(async () => {
  dir = join(await mkdtemp(join(tmpdir(), 'bhw-spool-large-')), 'spool');
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  await rm(join(dir, '..'), { recursive: true, force: true });
});

/** A write's outcome: null when its callback fired without an error. */
function written(upload: BufferedHttpWritable, chunk: string | Buffer): Promise<Error | null> {
  return new Promise((resolve) => upload.write(chunk, (error) => resolve(error ?? null)));
}

/** Drains the spool with a fresh writable and returns what the server assembled. */
async function drainSpool(): Promise<string> {
  const again = new BufferedHttpWritable(server!.url, { mode: 'batch', spool: { dir, maxBytes: 100 } });
  again.end();
  await once(again, 'finish');
  return server!.assembled().toString();
}

describe('a record larger than the spool can ever hold', () => {
  test('is refused at its own write; the smaller records queued before it are confirmed and delivered', async () => {
    server = await startBatchServer();
    const upload = new BufferedHttpWritable(server.url, { mode: 'batch', spool: { dir, maxBytes: 100 } });
    const errored = once(upload, 'error');
    // One tick, while the spool opens: all of these wait in the stream's queue and reach the spool as one _writev.
    const before = [written(upload, 'a1\n'), written(upload, 'b22\n'), written(upload, Buffer.from('c333\n'))];
    const refused = written(upload, Buffer.alloc(101, 'x'));
    const after = written(upload, 'd4444\n');
    expect(await Promise.all(before)).toEqual([null, null, null]);
    const error = (await refused) as SpoolRecordTooLargeError;
    expect(error).toBeInstanceOf(SpoolRecordTooLargeError);
    expect(error).toMatchObject({ code: 'ERR_BHW_SPOOL_RECORD_TOO_LARGE', recordBytes: 101, maxBytes: 100, largestRecord: 100, bytesWritten: 12 });
    // The stream errors with it; nothing after it is taken.
    const [streamError] = (await errored) as [BufferedHttpWritableError];
    expect(streamError).toBe(error);
    expect(await after).toBe(error);
    expect(streamError.spool!.bytesStored).toBe(12);
    expect(await drainSpool()).toBe('a1\nb22\nc333\n');
  });

  test('end(chunk) is refused the same way, a string measured in bytes', async () => {
    server = await startBatchServer();
    const upload = new BufferedHttpWritable(server.url, { mode: 'batch', spool: { dir, maxBytes: 100 } });
    const errored = once(upload, 'error');
    const before = written(upload, 'a1\n');
    // 60 characters, 120 bytes of UTF-8.
    const ended = new Promise<unknown>((resolve) => upload.end('é'.repeat(60), resolve));
    expect(await before).toBeNull();
    const [error] = (await errored) as [BufferedHttpWritableError];
    expect(error).toMatchObject({ code: 'ERR_BHW_SPOOL_RECORD_TOO_LARGE', recordBytes: 120 });
    expect(upload.writableFinished).toBe(false);
    // end()'s callback hears of it too.
    expect(await ended).toBe(error);
    expect(error.spool!.bytesStored).toBe(3);
    expect(await drainSpool()).toBe('a1\n');
  });
});
